#include "notify/event_document.hpp"

#include <unistd.h>

#include "util/time_format.hpp"

namespace cronhost::notify {
namespace {

using nlohmann::json;

std::string redacted(std::string text, const config::JobSpec& spec) {
  for (const auto& secret : spec.secret_values) {
    if (secret.size() < 4) continue;  // too short to tell from ordinary text
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
      text.replace(at, secret.size(), "***");
  }
  return text;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string plural(int n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

std::string summary_of(const config::JobSpec& spec, const EventFacts& f) {
  const std::string& host = host_name();
  switch (f.kind) {
    case EventKind::kFailed:
      return spec.name + " failed on " + host + (f.run && f.run->attempt > 1 ? " after " + plural(f.run->attempt, "attempt") : "") +
             (f.run && !f.run->error.empty() ? ": " + first_line(redacted(f.run->error, spec)) : "");
    case EventKind::kTimedOut:
      return spec.name + " timed out on " + host + " (timeout " + format_duration(spec.timeout) + ")" +
             (f.run && f.run->attempt > 1 ? " after " + plural(f.run->attempt, "attempt") : "");
    case EventKind::kRecovered:
      return spec.name + " recovered on " + host + " after " + plural(f.history.failures, "failed run");
    case EventKind::kMissed:
      return spec.name + " missed its slot at " + iso_utc(f.slot_ms.value_or(0)) + " on " + host +
             (f.late_ms ? " (started " + format_duration(Millis(*f.late_ms)) + " late)" : " (it did not run)");
    case EventKind::kNoSuccessWithin:
      return spec.name + " has not succeeded within " +
             format_duration(Millis(f.period_ms.value_or(f.at_ms - f.since_ms.value_or(f.at_ms)))) + " on " + host +
             (f.history.last_success_at ? " (last success " + iso_utc(*f.history.last_success_at) + ")" : " (no success yet)");
  }
  return spec.name;
}

}  // namespace

std::string iso_utc(int64_t ms) {
  return format_rfc3339(Instant(std::chrono::seconds(ms / 1000)), 0);
}

const std::string& host_name() {
  static const std::string name = [] {
    char buffer[256] = {};
    if (gethostname(buffer, sizeof buffer - 1) != 0) return std::string("localhost");
    return std::string(buffer);
  }();
  return name;
}

json event_document(const config::JobSpec& spec, const EventFacts& f, const std::string& public_url) {
  json doc = {{"event", std::string(to_string(f.kind))},
              {"job", spec.name},
              {"host", host_name()},
              {"at", iso_utc(f.at_ms)},
              {"summary", summary_of(spec, f)}};
  if (f.run) {
    const RunFacts& r = *f.run;
    doc["run"] = {{"id", r.id},
                  {"first_run_id", r.first_run_id.value_or(r.id)},
                  {"attempt", r.attempt},
                  {"status", std::string(store::to_string(r.status))},
                  {"trigger", std::string(store::to_string(r.trigger))},
                  {"scheduled_for", iso_utc(r.scheduled_for)},
                  {"started_at", iso_utc(r.started_at)},
                  {"finished_at", iso_utc(r.finished_at)},
                  {"duration_ms", r.finished_at - r.started_at},
                  {"error", r.error.empty() ? json() : json(redacted(r.error, spec))}};
  }
  if (f.slot_ms) doc["slot"] = iso_utc(*f.slot_ms);
  doc["last_success_at"] = f.history.last_success_at ? json(iso_utc(*f.history.last_success_at)) : json();
  doc["failures"] = f.history.failures;
  if (!public_url.empty())
    doc["url"] = f.run ? public_url + "/#/runs/" + std::to_string(f.run->id) : public_url + "/#/jobs/" + spec.name;
  return doc;
}

std::optional<EventKind> event_for_run(const RunFacts& run, const History& history) {
  if (run.retry_pending) return std::nullopt;
  if (run.status == store::RunStatus::kFailed) return EventKind::kFailed;
  if (run.status == store::RunStatus::kTimedOut) return EventKind::kTimedOut;
  if (run.status == store::RunStatus::kSucceeded && history.failures > 0) return EventKind::kRecovered;
  return std::nullopt;
}

std::string mail_subject(const json& doc) {
  return "[cronhost] " + doc.value("summary", doc.value("job", std::string()) + " " + doc.value("event", std::string()));
}

std::string mail_text(const json& doc) {
  std::string text = doc.value("summary", std::string()) + "\n\n";
  const auto line = [&text](const char* label, const std::string& value) {
    if (!value.empty()) text += std::string(label) + value + "\n";
  };
  line("Job:      ", doc.value("job", std::string()));
  line("Event:    ", doc.value("event", std::string()));
  line("Host:     ", doc.value("host", std::string()));
  line("At:       ", doc.value("at", std::string()));
  if (doc.contains("slot")) line("Slot:     ", doc["slot"].get<std::string>());
  if (doc.contains("run")) {
    const json& run = doc["run"];
    line("Run:      ", "#" + std::to_string(run.value("id", int64_t{0})) + " attempt " +
                           std::to_string(run.value("attempt", 1)) + ", " + run.value("status", std::string()) + " (" +
                           run.value("trigger", std::string()) + ")");
    if (run.contains("error") && run["error"].is_string()) line("Error:    ", run["error"].get<std::string>());
  }
  if (doc["last_success_at"].is_string()) line("Last success: ", doc["last_success_at"].get<std::string>());
  if (doc.contains("url")) line("Link:     ", doc["url"].get<std::string>());
  text += "\nThe event as JSON:\n" + doc.dump(2) + "\n";
  return text;
}

}  // namespace cronhost::notify
