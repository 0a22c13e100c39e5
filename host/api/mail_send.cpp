#include "api/mail_send.hpp"

#include <algorithm>
#include <cstdio>

#include "api/mail_outbox.hpp"
#include "util/printable.hpp"

namespace cronhost::api {
namespace {

constexpr size_t kCapturedTextBytes = 4096;

std::string size_text(size_t bytes) {
  char buffer[32];
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  if (bytes < (1 << 20)) std::snprintf(buffer, sizeof buffer, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buffer, sizeof buffer, "%.1f MiB", bytes / 1048576.0);
  return buffer;
}

}  // namespace

Status RunMail::check_configured() const {
  if (!place_.host || !place_.host->smtp) return Status::error("no smtp: section in the host config (where would it go?)");
  return Status::ok();
}

void RunMail::stamp(MailMessage& message) const {
  message.from = place_.host->smtp->from;
  message.message_id = make_message_id(message.from);
  message.date = mail_date(std::chrono::system_clock::time_point(std::chrono::milliseconds(place_.clock.now_ms())));
}

void RunMail::capture(const MailMessage& message, const std::vector<size_t>& sizes) {
  const Redactor& r = place_.redactor;
  std::string summary = "to " + r.apply(message.to.empty() ? std::string("(none)") : message.to.front());
  for (size_t i = 1; i < message.to.size(); ++i) summary += ", " + r.apply(message.to[i]);
  if (!message.cc.empty()) summary += " cc " + std::to_string(message.cc.size());
  if (!message.bcc.empty()) summary += " bcc " + std::to_string(message.bcc.size());
  summary += ": \"" + r.apply(printable(message.subject)) + "\"";
  nlohmann::json attachments = nlohmann::json::array();
  for (size_t i = 0; i < message.attachments.size(); ++i) {
    const auto& a = message.attachments[i];
    summary += (i == 0 ? "; attached " : ", ") + a.name + " (" + size_text(sizes[i]) + ")";
    attachments.push_back({{"name", a.name}, {"type", a.type}, {"bytes", sizes[i]}});
  }
  place_.effects.capture({"mail", summary,
                          {{"from", message.from}, {"to", message.to}, {"cc", message.cc}, {"bcc", message.bcc},
                           {"subject", r.apply(printable(message.subject))},
                           {"message_id", message.message_id},
                           {"text", r.apply(printable(message.text, kCapturedTextBytes))},
                           {"html", r.apply(printable(message.html, kCapturedTextBytes))},
                           {"attachments", attachments}}});
}

Result<MailSent> RunMail::send(const MailMessage& message, const std::vector<size_t>& sizes) {
  if (auto configured = check_configured(); !configured) return configured;
  MailSent answer{.message_id = message.message_id};
  if (!place_.effects.live()) {
    capture(message, sizes);
    answer.dry_run = true;
    return answer;
  }
  const auto& smtp = *place_.host->smtp;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(place_.deadline - std::chrono::steady_clock::now());
  const auto outcome = send_mail(smtp, message, std::clamp(left, std::chrono::milliseconds(1), smtp.timeout));
  if (place_.stop_now && place_.stop_now()) {
    answer.stopped = true;
    return answer;
  }
  if (outcome.sent) {
    answer.sent = true;
    return answer;
  }
  if (!place_.store) return Status::error("this run has no state file to queue the mail in: " + outcome.error);
  const int64_t now = place_.clock.now_ms();
  const int64_t run_id = place_.run_id;
  store::OutboxMail queued{0,
                           place_.job.name,
                           run_id ? std::optional<int64_t>(run_id) : std::nullopt,
                           to_json(message).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                           1,
                           now + mail_retry_delay(smtp, 1).count(),
                           outcome.error};
  if (outcome.permanent || smtp.attempts <= 1) {
    bury_mail(*place_.store, smtp, queued, outcome.error);
    return Status::error("\"" + message.subject + "\" was refused: " + outcome.error + "; kept in " +
                         smtp.dead_letter.string());
  }
  auto id = place_.store->outbox_add(queued, now);
  if (!id) {
    bury_mail(*place_.store, smtp, queued, outcome.error);
    return Status::error(outcome.error + "; and " + id.message());
  }
  answer.queued = true;
  answer.error = place_.redactor.apply(outcome.error);
  return answer;
}

}  // namespace cronhost::api
