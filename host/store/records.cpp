#include "store/records.hpp"

#include <array>

namespace cronhost::store {
namespace {

constexpr std::array<std::string_view, 6> kTriggers = {"schedule", "manual", "retry", "catchup", "after", "event"};
constexpr std::array<std::string_view, 8> kStatuses = {"queued",  "running",   "succeeded", "failed",
                                                        "timed_out", "skipped", "cancelled", "interrupted"};

}  // namespace

std::string_view to_string(Trigger t) { return kTriggers[static_cast<size_t>(t)]; }
std::string_view to_string(RunStatus s) { return kStatuses[static_cast<size_t>(s)]; }

std::optional<Trigger> parse_trigger(std::string_view text) {
  for (size_t i = 0; i < kTriggers.size(); ++i)
    if (kTriggers[i] == text) return static_cast<Trigger>(i);
  return std::nullopt;
}

std::optional<RunStatus> parse_status(std::string_view text) {
  for (size_t i = 0; i < kStatuses.size(); ++i)
    if (kStatuses[i] == text) return static_cast<RunStatus>(i);
  return std::nullopt;
}

}  // namespace cronhost::store
