#include "api/mail.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ctime>
#include <memory>
#include <random>

#include "api/http_client.hpp"
#include "api/mail_address.hpp"
#include "util/base64.hpp"

namespace cronhost::api {
namespace {

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

void append(Slist& list, const std::string& line) { list.reset(curl_slist_append(list.release(), line.c_str())); }

// An address header rebuilt from the parsed mailboxes, so it shows what the envelope holds.
std::string address_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    auto mailbox = parse_mailbox(item);
    out += (out.empty() ? "" : ", ") + (mailbox ? format_mailbox(mailbox.value()) : std::string("undisclosed-recipients:;"));
  }
  return out;
}

// MIME text has CRLF line breaks. Quoted-printable keeps a CRLF as a line break but encodes
// a bare LF as "=0A", which most clients show as one long line; so LF and lone CR become CRLF.
std::string crlf_lines(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> MailMessage::recipients() const {
  std::vector<std::string> all = to;
  all.insert(all.end(), cc.begin(), cc.end());
  all.insert(all.end(), bcc.begin(), bcc.end());
  return all;
}

std::string make_message_id(std::string_view from) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  const auto address = mail_address(from).value_or("cronhost@localhost");
  char id[40];
  std::snprintf(id, sizeof id, "%016llx.%08x", static_cast<unsigned long long>(random()),
                static_cast<unsigned>(std::time(nullptr)));
  return "<" + std::string(id) + "@" + address.substr(address.find('@') + 1) + ">";
}

std::string mail_date(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buffer;
}

nlohmann::json to_json(const MailMessage& m) {
  nlohmann::json attachments = nlohmann::json::array();
  for (const auto& a : m.attachments)
    attachments.push_back({{"name", a.name}, {"type", a.type}, {"content_base64", base64_encode(a.content)}});
  return {{"from", m.from}, {"to", m.to},     {"cc", m.cc},         {"bcc", m.bcc},
          {"subject", m.subject}, {"text", m.text}, {"html", m.html}, {"attachments", attachments},
          {"message_id", m.message_id}, {"date", m.date}};
}

Result<MailMessage> mail_from_json(const nlohmann::json& j) {
  try {
    MailMessage m;
    m.from = j.at("from").get<std::string>();
    m.to = j.at("to").get<std::vector<std::string>>();
    m.cc = j.at("cc").get<std::vector<std::string>>();
    m.bcc = j.at("bcc").get<std::vector<std::string>>();
    m.subject = j.at("subject").get<std::string>();
    m.text = j.at("text").get<std::string>();
    m.html = j.at("html").get<std::string>();
    m.message_id = j.at("message_id").get<std::string>();
    m.date = j.value("date", "");  // absent in mail queued before the date was kept: dated at delivery
    for (const auto& a : j.at("attachments")) {
      auto content = base64_decode(a.at("content_base64").get<std::string>());
      if (!content) return Result<MailMessage>::error("a stored attachment is not base64");
      m.attachments.push_back({a.at("name").get<std::string>(), a.at("type").get<std::string>(), *content});
    }
    return m;
  } catch (const std::exception& e) {
    return Result<MailMessage>::error(std::string("a stored message is damaged: ") + e.what());
  }
}

SendOutcome send_mail(const config::SmtpSettings& smtp, const MailMessage& message, std::chrono::milliseconds timeout) {
  ensure_curl_initialized();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(curl_easy_init(), curl_easy_cleanup);
  CURL* c = handle.get();
  if (!c) return {false, false, "cannot start libcurl"};
  const std::string url = (smtp.tls == "implicit" ? "smtps://" : "smtp://") + smtp.host + ":" + std::to_string(smtp.port);
  const std::string from = mail_address(smtp.from).value_or(smtp.from);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_USE_SSL, smtp.tls == "none" ? CURLUSESSL_NONE : CURLUSESSL_ALL);
  if (!smtp.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, smtp.ca_file.c_str());
  if (!smtp.user.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, smtp.user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, smtp.password.c_str());
  }
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, ("<" + from + ">").c_str());
  Slist recipients;
  for (const auto& r : message.recipients()) append(recipients, "<" + mail_address(r).value_or(r) + ">");
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, recipients.get());

  Slist headers;
  append(headers, "Date: " + (message.date.empty() ? mail_date(std::chrono::system_clock::now()) : message.date));
  const auto from_box = parse_mailbox(smtp.from);  // the host config's (trusted): as given if it does not parse
  append(headers, "From: " + (from_box ? format_mailbox(from_box.value()) : smtp.from));
  append(headers, "To: " + address_list(message.to));
  if (!message.cc.empty()) append(headers, "Cc: " + address_list(message.cc));
  append(headers, "Subject: " + header_text(message.subject));
  append(headers, "Message-ID: " + message.message_id);
  append(headers, "X-Mailer: cronhost");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  std::unique_ptr<curl_mime, decltype(&curl_mime_free)> mime(curl_mime_init(c), curl_mime_free);
  const auto add_text = [&](curl_mime* into, const std::string& body, const char* type) {
    curl_mimepart* part = curl_mime_addpart(into);
    const std::string lines = crlf_lines(body);
    curl_mime_data(part, lines.data(), lines.size());  // curl copies it
    curl_mime_type(part, type);
    curl_mime_encoder(part, "quoted-printable");  // keeps lines short: relays refuse lines over 998 bytes
  };
  Slist inline_header;
  if (!message.html.empty()) {
    curl_mime* alternatives = curl_mime_init(c);  // owned by the part below once attached
    add_text(alternatives, message.text, "text/plain; charset=utf-8");
    add_text(alternatives, message.html, "text/html; charset=utf-8");  // last: the preferred one
    curl_mimepart* part = curl_mime_addpart(mime.get());
    curl_mime_subparts(part, alternatives);
    curl_mime_type(part, "multipart/alternative");
    append(inline_header, "Content-Disposition: inline");
    curl_mime_headers(part, inline_header.release(), 1);
  } else {
    add_text(mime.get(), message.text, "text/plain; charset=utf-8");
  }
  for (const auto& a : message.attachments) {
    curl_mimepart* part = curl_mime_addpart(mime.get());
    curl_mime_data(part, a.content.data(), a.content.size());
    curl_mime_filename(part, a.name.c_str());
    curl_mime_type(part, a.type.c_str());
    curl_mime_encoder(part, "base64");
  }
  curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());

  const CURLcode code = curl_easy_perform(c);
  if (code == CURLE_OK) return {true, false, ""};
  long reply = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
  std::string error = "SMTP " + smtp.host + ":" + std::to_string(smtp.port) + ": " + curl_easy_strerror(code);
  if (reply) error += " (server replied " + std::to_string(reply) + ")";
  return {false, reply >= 500 && reply <= 599, error};
}

std::chrono::milliseconds mail_retry_delay(const config::SmtpSettings& smtp, int attempts) {
  auto delay = smtp.backoff;
  for (int i = 1; i < attempts && delay < smtp.max_backoff; ++i) delay *= 2;
  return std::min(delay, smtp.max_backoff);
}

Status write_dead_letter(const config::SmtpSettings& smtp, const nlohmann::json& entry) {
  const std::string line = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const int fd = ::open(smtp.dead_letter.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::error("cannot open the dead-letter file " + smtp.dead_letter.string() + ": " + std::strerror(errno));
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::error("cannot write the dead-letter file " + smtp.dead_letter.string());
  return Status::ok();
}

}  // namespace cronhost::api
