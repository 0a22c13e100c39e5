#include "notify/notifier.hpp"

#include <algorithm>

#include "api/mail.hpp"
#include "dispatch/run_metrics.hpp"
#include "notify/webhook_target.hpp"
#include "util/log.hpp"

namespace cronhost::notify {
namespace {

using nlohmann::json;
using store::RunStatus;

// The dead-man check looks this often at most (a store read per job with no_success_within),
// and at least a tenth of the shortest period, so an alarm is late by under 10 %.
constexpr int64_t kMaxCheckMs = 30'000;
constexpr int64_t kMinCheckMs = 250;
// How far back a run's history is read for consecutive failures.
constexpr int kHistoryRuns = 50;

bool is_failure(RunStatus s) { return s == RunStatus::kFailed || s == RunStatus::kTimedOut; }

std::vector<std::string> failure_events() { return {"failed", "timed_out"}; }

}  // namespace

Notifier::Notifier(store::Store& store, NotifierOptions options)
    : store_(store), options_(std::move(options)), clock_(options_.clock ? *options_.clock : SystemClock::instance()) {}

void Notifier::start() {
  std::lock_guard lock(mutex_);
  stopping_ = false;
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void Notifier::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

NotifyPlan Notifier::plan_for(const config::JobSpec& spec) const {
  const auto host = options_.host ? options_.host->current() : nullptr;
  return merge(host ? &host->notify : nullptr, &spec.notify());
}

History Notifier::history(const std::string& job, int64_t before_id, std::optional<int64_t> own_chain) {
  History h;
  store::RunQuery query{.job = job, .limit = kHistoryRuns};
  if (before_id) query.before_id = before_id;
  std::optional<int64_t> chain;  // the slot's first run: its retries count once
  for (const auto& run : store_.runs(query)) {
    if (run.status == RunStatus::kSucceeded) {
      h.last_success_at = run.finished_at;
      break;
    }
    if (!is_failure(run.status)) continue;
    const int64_t first = run.first_run_id.value_or(run.id);
    if (first == own_chain) continue;  // the run's own earlier attempts
    if (chain != first) ++h.failures;
    chain = first;
  }
  if (!h.last_success_at) {  // beyond the runs read: the newest success there is
    store::RunQuery success{.job = job, .status = RunStatus::kSucceeded, .limit = 1};
    if (before_id) success.before_id = before_id;
    if (auto runs = store_.runs(success); !runs.empty()) h.last_success_at = runs.front().finished_at;
  }
  return h;
}

void Notifier::run_finished(const config::JobSpec& spec, const RunFacts& run) {
  if (run.retry_pending) return;  // only the last attempt's outcome counts
  if (run.status != RunStatus::kSucceeded && !is_failure(run.status)) return;
  // Successes in a row need no look at the history (a store read per run otherwise). Only on
  // a store no one shares: another host may have run the failures in between.
  const bool ok = run.status == RunStatus::kSucceeded;
  if (!store_.shared()) {
    std::lock_guard lock(mutex_);
    const auto [last, fresh] = last_ok_.try_emplace(spec.name, ok);
    const bool again = !fresh && last->second && ok;
    last->second = ok;
    if (again) return;
  }
  const NotifyPlan plan = plan_for(spec);
  if (!plan.enabled) return;
  const bool wanted = run.status == RunStatus::kSucceeded ? plan.wants(EventKind::kRecovered)
                                                           : plan.wants(EventKind::kFailed) || plan.wants(EventKind::kTimedOut);
  if (!wanted) return;
  EventFacts facts{.at_ms = run.finished_at, .run = run,
                   .history = history(spec.name, run.id, run.first_run_id.value_or(run.id))};
  const auto kind = event_for_run(run, facts.history);
  if (!kind || !plan.wants(*kind)) return;
  if (*kind != EventKind::kRecovered) ++facts.history.failures;  // this run is one of them
  facts.kind = *kind;
  decide(spec, plan, facts, "run:" + std::to_string(run.id) + ":" + std::string(to_string(*kind)));
}

json Notifier::preview(const config::JobSpec& spec, const RunFacts& run) {
  const NotifyPlan plan = plan_for(spec);
  EventFacts facts{.at_ms = run.finished_at, .run = run, .history = history(spec.name, 0)};
  const auto kind = event_for_run(run, facts.history);
  if (!kind || !plan.wants(*kind)) return nullptr;
  if (*kind != EventKind::kRecovered) ++facts.history.failures;
  facts.kind = *kind;
  const auto host = options_.host ? options_.host->current() : nullptr;
  json channels = json::array();
  if (!plan.mail.empty()) channels.push_back({{"channel", "mail"}, {"to", plan.mail}});
  for (const auto& hook : plan.webhooks) {
    const auto secret = [&hook](const std::string& value) {
      return std::find(hook.secret_values.begin(), hook.secret_values.end(), value) != hook.secret_values.end();
    };
    json headers = json::object();
    for (const auto& [name, value] : hook.headers) headers[name] = secret(value) ? "***" : value;
    channels.push_back({{"channel", "webhook"}, {"url", secret(hook.url) ? "***" : hook.url}, {"format", hook.format},
                        {"signed", !hook.secret.empty()}, {"headers", headers}});
  }
  for (const auto& job : plan.jobs) channels.push_back({{"channel", "job"}, {"job", job}});
  return {{"event", std::string(to_string(*kind))},
          {"suppressed", held_back(spec.name, *kind, plan, clock_.now_ms())},
          {"channels", channels},
          {"document", event_document(spec, facts, host ? host->server.public_url : "")}};
}

void Notifier::missed(const config::JobSpec& spec, const NotifyPlan& plan, int64_t slot, int64_t now,
                      std::optional<int64_t> late_ms, const History& past) {
  if (options_.metrics) options_.metrics->missed(spec.name, now);
  EventFacts facts{.kind = EventKind::kMissed, .at_ms = now, .slot_ms = slot, .late_ms = late_ms, .history = past};
  decide(spec, plan, facts, "missed:" + spec.name + ":" + std::to_string(slot));
}

void Notifier::slots_dropped(const config::JobSpec& spec, const std::vector<int64_t>& slots, int64_t now) {
  if (slots.empty()) return;
  const NotifyPlan plan = plan_for(spec);
  log_event(spdlog::level::warn, "slots missed", {{"job", spec.name}, {"slots", slots.size()},
                                                  {"first", iso_utc(slots.front())}, {"last", iso_utc(slots.back())}});
  const History past = plan.wants(EventKind::kMissed) ? history(spec.name, 0) : History{};
  for (const int64_t slot : slots) missed(spec, plan, slot, now, std::nullopt, past);
}

void Notifier::slot_started(const config::JobSpec& spec, int64_t slot, int64_t due, int64_t started, int64_t run_id) {
  (void)run_id;
  // The grace alone, without the merge, in the common case of a run on time.
  const auto host = options_.host ? options_.host->current() : nullptr;
  Millis grace = kDefaultMissedGrace;
  if (host && host->notify.missed_grace && spec.notify().inherit) grace = *host->notify.missed_grace;
  if (spec.notify().missed_grace && !spec.notify().off) grace = *spec.notify().missed_grace;
  if (started - due <= grace.count()) return;
  log_event(spdlog::level::warn, "slot started late",
            {{"job", spec.name}, {"slot", iso_utc(slot)}, {"late_ms", started - due}, {"grace_ms", grace.count()}});
  const NotifyPlan plan = plan_for(spec);
  missed(spec, plan, slot, started, started - due, plan.wants(EventKind::kMissed) ? history(spec.name, 0) : History{});
}

void Notifier::check_no_success(int64_t now) {
  if (!options_.jobs) return;
  for (const auto& spec : options_.jobs()) {
    const NotifyPlan plan = plan_for(*spec);
    if (!plan.wants(EventKind::kNoSuccessWithin) || !plan.no_success_within) continue;
    const int64_t period = plan.no_success_within->count();
    int64_t first_seen;
    {
      std::lock_guard lock(mutex_);
      first_seen = first_seen_.try_emplace(spec->name, now).first->second;
    }
    EventFacts facts{.kind = EventKind::kNoSuccessWithin, .at_ms = now, .history = history(spec->name, 0)};
    int64_t since = facts.history.last_success_at.value_or(first_seen);
    if (!facts.history.last_success_at) {
      // Never succeeded: counted from the first sight, which an earlier alarm (before a
      // restart) may have recorded as its slot.
      auto earlier = store_.notifications({spec->name, {"no_success_within"}, false, 1});
      if (earlier && !earlier.value().empty() && earlier.value().front().slot)
        since = std::min(since, *earlier.value().front().slot);
    }
    if (now - since < period) continue;
    facts.since_ms = since;
    facts.period_ms = period;
    // Once per period: the key names which one, counted from `since`, which hosts sharing the
    // store agree on: the last success, or the first sight an earlier alarm recorded.
    const std::string key = std::to_string(since) + ":" + std::to_string((now - since) / period);
    decide(*spec, plan, facts, "no_success_within:" + spec->name + ":" + key);
  }
}

bool Notifier::held_back(const std::string& job, EventKind kind, const NotifyPlan& plan, int64_t now) {
  if (kind == EventKind::kRecovered || kind == EventKind::kNoSuccessWithin) return false;
  const bool failure = kind == EventKind::kFailed || kind == EventKind::kTimedOut;
  auto last = store_.notifications({job, failure ? failure_events() : std::vector<std::string>{"missed"}, true, 1});
  if (!last || last.value().empty()) return false;
  const int64_t sent_at = last.value().front().at;
  if (now - sent_at >= plan.repeat_every.count()) return false;
  if (!failure) return true;
  // A recovery since then starts a new series of failures: its first one sends.
  auto recovered = store_.notifications({job, {"recovered"}, false, 1});
  return !(recovered && !recovered.value().empty() && recovered.value().front().at >= sent_at);
}

void Notifier::decide(const config::JobSpec& spec, const NotifyPlan& plan, const EventFacts& facts,
                      const std::string& dedup_key) {
  const auto host = options_.host ? options_.host->current() : nullptr;
  const json document = event_document(spec, facts, host ? host->server.public_url : "");
  const int64_t now = clock_.now_ms();
  store::NotificationRecord record{.job = spec.name, .event = std::string(to_string(facts.kind)), .at = facts.at_ms};
  record.slot = facts.kind == EventKind::kNoSuccessWithin ? facts.since_ms : facts.slot_ms;
  if (facts.run) record.run_id = facts.run->id;
  record.summary = document.value("summary", "");
  record.dedup_key = dedup_key;
  // Missed slots are recorded even when nobody is told (the job page shows them).
  const bool wanted = plan.wants(facts.kind);
  record.suppressed = !wanted || held_back(spec.name, facts.kind, plan, now);
  json channels = json::array();
  if (!record.suppressed) {
    for (size_t i = 0; i < plan.mail.size(); ++i) channels.push_back("mail");
    for (size_t i = 0; i < plan.webhooks.size(); ++i) channels.push_back("webhook");
    for (const auto& job : plan.jobs) channels.push_back("job:" + job);
    // One "mail" however many addresses: one message goes to all of them.
    channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
  }
  record.channels_json = channels.dump();
  auto added = store_.notification_add(record);
  if (!added) {
    log_event(spdlog::level::err, "cannot record a notification; not sent",
              {{"job", spec.name}, {"event", record.event}, {"error", added.message()}});
    return;
  }
  if (!added.value()) return;  // decided before (a restart, or another host)
  if (!wanted) return;
  if (record.suppressed) {
    log_event(spdlog::level::info, "notification suppressed (repeat_every)",
              {{"job", spec.name}, {"event", record.event}, {"repeat_every", format_duration(plan.repeat_every)}});
    return;
  }
  (void)deliver(spec, plan, document, record.run_id, now);
}

std::vector<std::string> Notifier::deliver(const config::JobSpec& spec, const NotifyPlan& plan, const json& document,
                                           std::optional<int64_t> run_id, int64_t now) {
  std::vector<std::string> problems;
  const auto host = options_.host ? options_.host->current() : nullptr;
  if (!plan.mail.empty()) {
    if (!host || !host->smtp) {
      problems.push_back("mail: the host config has no smtp: section");
    } else {
      api::MailMessage message;
      message.from = host->smtp->from;
      message.to = plan.mail;
      message.subject = mail_subject(document);
      message.text = mail_text(document);
      message.message_id = api::make_message_id(message.from);
      message.date = api::mail_date(std::chrono::system_clock::time_point(std::chrono::milliseconds(now)));
      // Through the outbox, which sends it within a second and retries it like a run's mail.
      store::OutboxMail queued{0, spec.name, run_id, api::to_json(message).dump(-1, ' ', false, json::error_handler_t::replace),
                               0, now, ""};
      if (auto id = store_.outbox_add(queued, now); !id) problems.push_back("mail: " + id.message());
    }
  }
  for (const auto& hook : plan.webhooks)
    if (auto id = queue_webhook(store_, hook, document, now); !id) problems.push_back("webhook: " + id.message());
  const json event = {{"name", "notify." + document.value("event", std::string())}, {"payload", document}};
  for (const auto& job : plan.jobs)
    if (!options_.fire_job || !options_.fire_job(job, event))
      problems.push_back("job: no job named " + job + " to fire");
  log_event(problems.empty() ? spdlog::level::info : spdlog::level::warn, "notification sent",
            {{"job", spec.name}, {"event", document.value("event", "")}, {"to", describe_channels(plan)},
             {"problems", problems}});
  return problems;
}

void Notifier::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    int64_t interval = kMaxCheckMs;
    try {
      if (options_.jobs)
        for (const auto& spec : options_.jobs())
          if (auto plan = plan_for(*spec); plan.enabled && plan.no_success_within)
            interval = std::min(interval, std::max(kMinCheckMs, plan.no_success_within->count() / 10));
      check_no_success(clock_.now_ms());
    } catch (const std::exception& e) {  // a store read failing: the next pass tries again
      log_event(spdlog::level::err, "dead-man check failed", {{"error", e.what()}});
    }
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(interval), [this] { return stopping_; });
  }
}

}  // namespace cronhost::notify
