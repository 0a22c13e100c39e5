// A time zone from the system tz database, flattened into a sorted table of UTC-offset
// changes so the scheduler's hot path is a binary search, not a tz library call.
// Zones are loaded once and shared; a Zone is immutable and safe to read from any thread.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.hpp"

namespace cronhost::schedule {

class Zone {
 public:
  // A stretch of time with one UTC offset: [begin, end) in Unix seconds.
  struct Segment {
    int64_t begin, end;
    int32_t offset;       // seconds east of UTC
    int32_t prev_offset;  // the offset before `begin` (== offset for the first segment)
  };
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  // Loads an IANA zone ("Australia/Adelaide", "UTC"); cached process-wide.
  // Fails with "unknown time zone ..." when the tz database has no such zone.
  static Result<std::shared_ptr<const Zone>> load(std::string_view name);
  static std::shared_ptr<const Zone> utc();

  const std::string& name() const { return name_; }
  bool has_transitions() const { return !changes_.empty(); }
  Segment segment_at(int64_t unix_seconds) const;
  int32_t offset_at(int64_t unix_seconds) const { return segment_at(unix_seconds).offset; }

 private:
  Zone() = default;
  std::string name_;
  std::vector<int64_t> changes_;  // instants where the offset changes, ascending
  std::vector<int32_t> offsets_;  // offsets_[i] is in force before changes_[i]; one more than changes_
};

}  // namespace cronhost::schedule
