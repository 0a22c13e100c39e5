// Mail: the message a job sends, its delivery over SMTP (libcurl's MIME API builds the
// message: text and HTML alternatives, base64 attachments), and the dead-letter file for
// mail that could not be delivered. Thread-safe: plain functions over their arguments.
#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/host_config.hpp"
#include "util/status.hpp"

namespace cronhost::api {

struct Attachment {
  std::string name;
  std::string type = "application/octet-stream";
  std::string content;  // the bytes
};

struct MailMessage {
  std::string from;  // "Name <addr>" or addr; from the host config
  std::vector<std::string> to, cc, bcc;
  std::string subject;
  std::string text, html;
  std::vector<Attachment> attachments;
  std::string message_id;  // <...@...>, made once so a retry is recognisably the same mail
  std::string date;        // the Date header, fixed when the mail is made: a retry says when it was written

  std::vector<std::string> recipients() const;  // to, cc and bcc
};

nlohmann::json to_json(const MailMessage& message);  // attachments base64
Result<MailMessage> mail_from_json(const nlohmann::json& json);

std::string make_message_id(std::string_view from);
// "Thu, 03 Dec 2026 11:42:19 +0000" (RFC 5322), in UTC.
std::string mail_date(std::chrono::system_clock::time_point when);

struct SendOutcome {
  bool sent = false;
  bool permanent = false;  // the server refused for good (5xx): retrying will not help
  std::string error;
};

// One delivery attempt; `timeout` bounds the whole SMTP conversation. Text and HTML go out
// with CRLF line breaks whatever the caller wrote; a message without a date is dated now.
SendOutcome send_mail(const config::SmtpSettings& smtp, const MailMessage& message, std::chrono::milliseconds timeout);

// The wait before attempt `attempts + 1`: backoff doubling per attempt, capped at max_backoff.
std::chrono::milliseconds mail_retry_delay(const config::SmtpSettings& smtp, int attempts);

// Appends the message and why it died as one JSON line (fsynced) to smtp.dead_letter.
Status write_dead_letter(const config::SmtpSettings& smtp, const nlohmann::json& entry);

}  // namespace cronhost::api
