// A notify: block (a job's, or the host config's default) as plain data, and the merge of a
// job's block over the host's default. Built by the loaders; immutable afterwards.
#pragma once
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostic.hpp"
#include "notify/webhook_target.hpp"
#include "util/duration.hpp"

namespace cronhost::config {
class YamlDocument;
}

namespace cronhost::notify {

// What a notification is about. kNoSuccessWithin is the dead-man alarm.
enum class EventKind { kFailed, kTimedOut, kRecovered, kMissed, kNoSuccessWithin };
std::string_view to_string(EventKind kind);
std::optional<EventKind> parse_event_kind(std::string_view text);

// Defaults when neither the job nor the host says: a job failing every minute mails once per
// 6 h until it recovers (a recovery always sends), and a slot counts as missed once it is 5 min
// overdue, which a host restart or a busy worker pool rarely reaches.
constexpr Millis kDefaultRepeatEvery = std::chrono::hours(6);
constexpr Millis kDefaultMissedGrace = std::chrono::minutes(5);

// One block as written: unset fields leave the other block's value (see merge()).
struct NotifyBlock {
  bool off = false;      // notify: false
  bool inherit = true;   // inherit: false: the host's default block is not merged in
  std::optional<std::set<EventKind>> on;
  std::optional<Millis> repeat_every, missed_grace, no_success_within;
  std::vector<std::string> mail;
  std::vector<WebhookTarget> webhooks;
  std::vector<std::string> jobs;
  bool empty() const {
    return !off && inherit && !on && !repeat_every && !missed_grace && !no_success_within && mail.empty() &&
           webhooks.empty() && jobs.empty();
  }
};

// What applies to one job: the host's default with the job's block over it.
struct NotifyPlan {
  bool enabled = false;  // false: notify: false, or no channel at all
  std::set<EventKind> on;
  Millis repeat_every = kDefaultRepeatEvery;
  Millis missed_grace = kDefaultMissedGrace;
  std::optional<Millis> no_success_within;  // set: the dead-man check runs for the job
  std::vector<std::string> mail;
  std::vector<WebhookTarget> webhooks;
  std::vector<std::string> jobs;
  bool wants(EventKind kind) const { return enabled && on.count(kind); }
};

// The merge rule: notify: false turns everything off; otherwise settings the job sets (on,
// repeat_every, missed_grace, no_success_within) replace the default's, and channels (mail,
// webhook, job) are added to the default's, unless the job says inherit: false.
NotifyPlan merge(const NotifyBlock* host_default, const NotifyBlock* job);

// Reads the notify: value at `pointer` of a document the schema check already passed (a
// job file or the host config); problems (bad durations, headers) go to `out`, naming the
// file and key. A webhook's secret must come from ${env:}/${file:}; such values of a webhook
// go to its secret_values, never to be shown.
NotifyBlock read_notify_block(const config::YamlDocument& doc, const std::string& pointer, config::Diagnostics& out);

// The block as the API and `cronhost show` print it: webhook URLs and header values from
// ${env:}/${file:} as ***, the signing secret only as "signed". false for notify: false.
nlohmann::json block_to_json(const NotifyBlock& block);

// Whether two blocks say the same (a reload tells what changed).
bool same_block(const NotifyBlock& a, const NotifyBlock& b);

// "ops@acme.test, webhook https://hooks.example/***, job page-oncall": for messages and dry runs.
std::string describe_channels(const NotifyPlan& plan);

}  // namespace cronhost::notify
