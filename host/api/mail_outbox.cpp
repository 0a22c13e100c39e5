#include "api/mail_outbox.hpp"

#include "api/mail.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/time_format.hpp"

namespace cronhost::api {
namespace {

// Mail queued by a run is noticed within this long; the query is one indexed lookup.
constexpr auto kPollInterval = std::chrono::seconds(1);

}  // namespace

void bury_mail(store::OutboxStore& store, const config::SmtpSettings& smtp, const store::OutboxMail& mail,
               const std::string& error) {
  auto message = nlohmann::json::parse(mail.message_json, nullptr, false);
  const std::string subject = message.is_object() ? message.value("subject", std::string()) : "";
  nlohmann::json entry = {{"dead_at", format_rfc3339(Instant(std::chrono::seconds(now_ms() / 1000)), 0)},
                          {"job", mail.job},
                          {"run_id", mail.run_id ? nlohmann::json(*mail.run_id) : nlohmann::json()},
                          {"attempts", mail.attempts},
                          {"error", error},
                          {"message", message}};
  const Status written = write_dead_letter(smtp, entry);
  const std::string note = "mail \"" + subject + "\" was not delivered after " + std::to_string(mail.attempts) +
                           (mail.attempts == 1 ? " attempt" : " attempts") + " (" + error + "); " +
                           (written ? "kept in " + smtp.dead_letter.string() : "and " + written.message());
  if (mail.run_id) (void)store.run_add_note(*mail.run_id, note);
  log_event(spdlog::level::err, "mail given up",
            {{"job", mail.job}, {"subject", subject}, {"attempts", mail.attempts}, {"error", error},
             {"dead_letter", smtp.dead_letter.string()}});
}

void MailOutbox::start() { thread_ = std::thread([this] { loop(); }); }

void MailOutbox::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MailOutbox::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    if (auto due = store_.outbox_due(now_ms(), 20))
      for (const auto& mail : due.value()) attempt(mail);
    auto wait = std::chrono::milliseconds(kPollInterval);
    if (auto next = store_.outbox_next_attempt())
      wait = std::clamp(std::chrono::milliseconds(*next - now_ms()), std::chrono::milliseconds(0), wait);
    lock.lock();
    wake_.wait_for(lock, wait, [this] { return stopping_; });
  }
}

void MailOutbox::attempt(const store::OutboxMail& mail) {
  auto message = mail_from_json(nlohmann::json::parse(mail.message_json, nullptr, false));
  store::OutboxMail tried = mail;
  tried.attempts = mail.attempts + 1;
  if (!message) {
    bury_mail(store_, smtp_, tried, message.message());
    (void)store_.outbox_remove(mail.id);
    return;
  }
  const SendOutcome outcome = send_mail(smtp_, message.value(), smtp_.timeout);
  if (outcome.sent) {
    (void)store_.outbox_remove(mail.id);
    log_event(spdlog::level::info, "mail delivered from the outbox",
              {{"job", mail.job}, {"subject", message->subject}, {"attempts", tried.attempts}});
    return;
  }
  if (outcome.permanent || tried.attempts >= smtp_.attempts) {
    bury_mail(store_, smtp_, tried, outcome.error);
    (void)store_.outbox_remove(mail.id);
    return;
  }
  const auto delay = mail_retry_delay(smtp_, tried.attempts);
  (void)store_.outbox_retry_at(mail.id, tried.attempts, now_ms() + delay.count(), outcome.error);
  log_event(spdlog::level::warn, "mail not delivered, will retry",
            {{"job", mail.job}, {"subject", message->subject}, {"attempts", tried.attempts},
             {"retry_in_ms", delay.count()}, {"error", outcome.error}});
}

}  // namespace cronhost::api
