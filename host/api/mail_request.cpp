#include "api/mail_request.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "api/beneath.hpp"
#include "api/mail_address.hpp"
#include "api/permissions.hpp"
#include "util/http_header.hpp"

namespace cronhost::api {
namespace {

constexpr const char* kFunction = "mail.send";

std::string type_for(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> kTypes = {
      {".gz", "application/gzip"},  {".csv", "text/csv"},        {".txt", "text/plain"},
      {".json", "application/json"}, {".pdf", "application/pdf"}, {".html", "text/html"},
      {".db", "application/vnd.sqlite3"}, {".sqlite", "application/vnd.sqlite3"}, {".zip", "application/zip"}};
  for (const auto& [suffix, type] : kTypes)
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) return type;
  return "application/octet-stream";
}

// type/subtype (RFC 6838 names), then any "; name=value" parameters without control
// characters or quotes: what curl writes into the part's Content-Type header.
bool is_media_type(std::string_view type) {
  const auto name_char = [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$&-^_.+").find(static_cast<char>(c)) != std::string_view::npos;
  };
  const size_t slash = type.find('/');
  const size_t end = std::min(type.find(';'), type.size());
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= end) return false;
  for (size_t i = 0; i < end; ++i)
    if (i != slash && !name_char(static_cast<unsigned char>(type[i]))) return false;
  const std::string_view params = type.substr(end);
  return !has_control_characters(params) && params.find('"') == std::string_view::npos;
}

// Appends what `fd` holds to `out`; false on a read error. Stops past `limit` bytes (the
// caller then refuses the attachment, as over the total cap).
bool read_all(int fd, size_t limit, std::string& out) {
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out.append(chunk, static_cast<size_t>(n));
    if (out.size() > limit + 1) return true;  // enough to know it is over the cap
  }
}

using Prepared = CallResult<PreparedMail>;

Prepared misuse(const std::string& message) { return Prepared::misuse(std::string(kFunction) + ": " + message); }

// Reads attachments into `prepared`; an error (misuse) when one is refused.
std::optional<Prepared> read_attachments(const config::JobSpec& job, const EffectLog& effects, const MailRequest& request,
                                         PreparedMail& prepared) {
  size_t total = 0;
  for (size_t i = 0; i < request.attachments.size(); ++i) {
    const AttachmentRequest& item = request.attachments[i];
    const std::string where = std::string(kFunction) + " attachment " + std::to_string(i + 1) + ": ";
    Attachment attachment;
    size_t size = 0;
    if (item.path) {
      if (item.content) return Prepared::misuse(where + "give path or content, not both");
      auto located = AllowedPath::locate(job, *item.path);
      if (!located) return Prepared::misuse(located.message());
      attachment.name = item.name.value_or(located->path().filename().string());
      const uintmax_t* planned = effects.live() ? nullptr : effects.virtual_file(located->path());
      if (planned) {
        size = static_cast<size_t>(*planned);
      } else {
        // Read through a descriptor opened beneath the allowed folder: no path lookup twice.
        auto file = located->open(O_RDONLY);
        if (!file && located->is_denial(file.message())) return Prepared::misuse(file.message());
        if (!file || !read_all(file->get(), kMaxAttachmentBytes - total, attachment.content))
          return misuse("cannot read the attachment " + *item.path);
        size = attachment.content.size();
      }
    } else {
      if (!item.name) return Prepared::misuse(where + "field 'name' is required");
      if (!item.content) return Prepared::misuse(where + "field 'content' is required");
      attachment.name = *item.name;
      attachment.content = *item.content;
      size = attachment.content.size();
    }
    // The name and type go into the part's MIME headers as they are.
    if (has_control_characters(attachment.name)) return Prepared::misuse(where + "field 'name' holds a control character");
    attachment.type = item.type.value_or(type_for(attachment.name));
    if (!is_media_type(attachment.type))
      return Prepared::misuse(where + "field 'type' must be a media type such as text/csv (got '" +
                              escape_controls(attachment.type) + "')");
    total += size;
    if (total > kMaxAttachmentBytes) return misuse("attachments are larger than 25 MiB in total");
    prepared.sizes.push_back(size);
    prepared.message.attachments.push_back(std::move(attachment));
  }
  return std::nullopt;
}

}  // namespace

CallResult<PreparedMail> prepare_mail(const config::JobSpec& job, const EffectLog& effects, const RunMail& mail,
                                      const MailRequest& request) {
  if (auto configured = mail.check_configured(); !configured) return misuse(configured.message());
  PreparedMail prepared;
  MailMessage& message = prepared.message;
  message.to = request.to;
  message.cc = request.cc;
  message.bcc = request.bcc;
  if (message.to.empty() && message.cc.empty() && message.bcc.empty()) return misuse("field 'to' is required");
  std::vector<std::string> addresses;
  for (const auto& recipient : message.recipients()) {
    auto mailbox = parse_mailbox(recipient);
    if (!mailbox)
      return misuse("'" + escape_controls(recipient) + "' is not an email address: " + mailbox.message() +
                    " (expected name@host or Name <name@host>)");
    addresses.push_back(mailbox->address);
  }
  if (auto allowed = check_mail(job, addresses); !allowed) return Prepared::misuse(allowed.message());
  if (!request.subject) return misuse("field 'subject' is required");
  message.subject = *request.subject;
  if (has_control_characters(message.subject)) return misuse("the subject holds a control character (it must be one line of text)");
  message.text = request.text.value_or("");
  message.html = request.html.value_or("");
  if (message.text.empty() && message.html.empty()) return misuse("give text, html or both");
  if (auto refused = read_attachments(job, effects, request, prepared)) return std::move(*refused);
  mail.stamp(message);
  return prepared;
}

}  // namespace cronhost::api
