#include "server/api_context.hpp"

#include "util/clock.hpp"
#include "util/log.hpp"

namespace cronhost::server {

void ApiContext::audit(const Caller& caller, const std::string& action, const std::string& target,
                       const nlohmann::json& detail) const {
  const int64_t now = now_ms();
  log_action(caller, action, target);
  if (auto saved = store.audit({0, now, caller.name, action, target, detail.is_null() ? "" : detail.dump()}); !saved)
    log_event(spdlog::level::err, "cannot write the audit log", {{"error", saved.message()}});
}

void ApiContext::log_action(const Caller& caller, const std::string& action, const std::string& target) const {
  log_event(spdlog::level::info, "api action", {{"by", caller.name}, {"action", action}, {"target", target}});
}

}  // namespace cronhost::server
