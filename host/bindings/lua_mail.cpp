// mail: sends mail through the host's SMTP relay (smtp: in the host config) to recipients
// the job allows (allow.mail).
//
//   local sent, err = mail.send{
//     to = {"ops@acme.test"}, cc = "lead@acme.test", bcc = {...},
//     subject = "Backup done", text = "plain body", html = "<p>html body</p>",
//     attachments = {{path = "/var/backups/app/app.db.gz"},                       -- inside allow.files
//                    {name = "report.csv", content = csv_text, type = "text/csv"}},
//   }
//   -- sent.sent: delivered now; sent.queued: the relay failed for now, the host retries it
//   -- nil, err: the relay refused it for good (kept in the dead-letter file)
//
// A recipient outside allow.mail, a bad address or argument raises. In a dry run the mail is
// captured (headers, recipients, attachment names and sizes) and not sent.
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "api/beneath.hpp"
#include "api/mail.hpp"
#include "api/mail_address.hpp"
#include "api/mail_outbox.hpp"
#include "api/permissions.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"
#include "store/state_store.hpp"
#include "util/http_header.hpp"

namespace cronhost::bindings {
namespace {

constexpr size_t kMaxAttachmentBytes = size_t{25} << 20;  // what common relays accept in total
constexpr size_t kCapturedTextBytes = 4096;

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
  return !api::has_control_characters(params) && params.find('"') == std::string_view::npos;
}

std::string size_text(size_t bytes) {
  char buffer[32];
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  if (bytes < (1 << 20)) std::snprintf(buffer, sizeof buffer, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buffer, sizeof buffer, "%.1f MiB", bytes / 1048576.0);
  return buffer;
}

// Appends what `fd` holds to `out`; false on a read error or past `limit` bytes (the caller
// then refuses the attachment; the total cap is checked again by the caller).
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

// Reads attachments; in a dry run a file an earlier captured effect would have made counts
// with its expected size (`sizes` holds every attachment's size either way).
void read_attachments(lua_State* L, run::RunContext& ctx, const TableArgs& args, api::MailMessage& message,
                      std::vector<size_t>& sizes) {
  if (args.push("attachments") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1)) args.error("field 'attachments' must be a list of {path=...} or {name=, content=, type=}");
  const int list = lua_gettop(L);
  size_t total = 0;
  for (lua_Integer i = 1; i <= luaL_len(L, list); ++i) {
    lua_geti(L, list, i);
    TableArgs item(L, -1, args.function() + " attachment " + std::to_string(i), {"path", "name", "content", "type"});
    api::Attachment attachment;
    size_t size = 0;
    if (auto path = item.string("path")) {
      if (item.has("content")) item.error("give path or content, not both");
      auto located = api::AllowedPath::locate(ctx.job, *path);
      if (!located) raise(L, located.message());
      attachment.name = item.string("name").value_or(located->path().filename().string());
      const uintmax_t* planned = ctx.effects.live() ? nullptr : ctx.effects.virtual_file(located->path());
      if (planned) {
        size = static_cast<size_t>(*planned);
      } else {
        // Read through a descriptor opened beneath the allowed folder: no path lookup twice.
        auto file = located->open(O_RDONLY);
        if (!file && located->is_denial(file.message())) raise(L, file.message());
        if (!file || !read_all(file->get(), kMaxAttachmentBytes - total, attachment.content))
          raise(L, args.function() + ": cannot read the attachment " + *path);
        size = attachment.content.size();
      }
    } else {
      attachment.name = *item.string("name", true);
      attachment.content = *item.string("content", true);
      size = attachment.content.size();
    }
    // The name and type go into the part's MIME headers as they are.
    if (api::has_control_characters(attachment.name)) item.error("field 'name' holds a control character");
    attachment.type = item.string("type").value_or(type_for(attachment.name));
    if (!is_media_type(attachment.type))
      item.error("field 'type' must be a media type such as text/csv (got '" + escape_controls(attachment.type) + "')");
    total += size;
    if (total > kMaxAttachmentBytes) args.error("attachments are larger than 25 MiB in total");
    sizes.push_back(size);
    message.attachments.push_back(std::move(attachment));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

api::MailMessage read_message(lua_State* L, run::RunContext& ctx, std::vector<size_t>& sizes) {
  TableArgs args(L, 1, "mail.send", {"to", "cc", "bcc", "subject", "text", "html", "attachments"});
  api::MailMessage message;
  message.to = args.strings("to");
  message.cc = args.strings("cc");
  message.bcc = args.strings("bcc");
  if (message.to.empty() && message.cc.empty() && message.bcc.empty()) args.error("field 'to' is required");
  std::vector<std::string> addresses;
  for (const auto& recipient : message.recipients()) {
    auto mailbox = api::parse_mailbox(recipient);
    if (!mailbox)
      args.error("'" + escape_controls(recipient) + "' is not an email address: " + mailbox.message() +
                 " (expected name@host or Name <name@host>)");
    addresses.push_back(mailbox->address);
  }
  if (auto allowed = api::check_mail(ctx.job, addresses); !allowed) raise(L, allowed.message());
  message.subject = *args.string("subject", true);
  if (api::has_control_characters(message.subject))
    args.error("the subject holds a control character (it must be one line of text)");
  message.text = args.string("text").value_or("");
  message.html = args.string("html").value_or("");
  if (message.text.empty() && message.html.empty()) args.error("give text, html or both");
  read_attachments(L, ctx, args, message, sizes);
  message.from = ctx.host->smtp->from;
  message.message_id = api::make_message_id(message.from);
  message.date = api::mail_date(std::chrono::system_clock::now());
  return message;
}

void capture(run::RunContext& ctx, const api::MailMessage& message, const std::vector<size_t>& sizes) {
  std::string summary = "to " + ctx.redact(message.to.empty() ? std::string("(none)") : message.to.front());
  for (size_t i = 1; i < message.to.size(); ++i) summary += ", " + ctx.redact(message.to[i]);
  if (!message.cc.empty()) summary += " cc " + std::to_string(message.cc.size());
  if (!message.bcc.empty()) summary += " bcc " + std::to_string(message.bcc.size());
  summary += ": \"" + ctx.redact(printable(message.subject)) + "\"";
  nlohmann::json attachments = nlohmann::json::array();
  for (size_t i = 0; i < message.attachments.size(); ++i) {
    const auto& a = message.attachments[i];
    summary += (i == 0 ? "; attached " : ", ") + a.name + " (" + size_text(sizes[i]) + ")";
    attachments.push_back({{"name", a.name}, {"type", a.type}, {"bytes", sizes[i]}});
  }
  ctx.effects.capture({"mail", summary,
                       {{"from", message.from}, {"to", message.to}, {"cc", message.cc}, {"bcc", message.bcc},
                        {"subject", ctx.redact(printable(message.subject))},
                        {"message_id", message.message_id},
                        {"text", ctx.redact(printable(message.text, kCapturedTextBytes))},
                        {"html", ctx.redact(printable(message.html, kCapturedTextBytes))},
                        {"attachments", attachments}}});
}

int mail_send(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  if (!ctx.host || !ctx.host->smtp) raise(L, "mail.send: no smtp: section in the host config (where would it go?)");
  std::vector<size_t> sizes;
  const api::MailMessage message = read_message(L, ctx, sizes);
  lua_newtable(L);
  lua_pushstring(L, message.message_id.c_str());
  lua_setfield(L, -2, "message_id");
  if (!ctx.effects.live()) {
    capture(ctx, message, sizes);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "dry_run");
    return 1;
  }
  const auto& smtp = *ctx.host->smtp;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline - std::chrono::steady_clock::now());
  const auto outcome = api::send_mail(smtp, message, std::clamp(left, std::chrono::milliseconds(1), smtp.timeout));
  run::LuaSandbox::check_stop(L);
  if (outcome.sent) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "sent");
    return 1;
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  store::OutboxMail queued{0, ctx.job.name, ctx.run_id ? std::optional<int64_t>(ctx.run_id) : std::nullopt,
                           api::to_json(message).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), 1, now + api::mail_retry_delay(smtp, 1).count(), outcome.error};
  if (outcome.permanent || smtp.attempts <= 1) {
    api::bury_mail(*ctx.store, smtp, queued, outcome.error);
    return fail(L, "mail.send: \"" + message.subject + "\" was refused: " + outcome.error + "; kept in " +
                       smtp.dead_letter.string());
  }
  auto id = ctx.store->outbox_add(queued, now);
  if (!id) {
    api::bury_mail(*ctx.store, smtp, queued, outcome.error);
    return fail(L, "mail.send: " + outcome.error + "; and " + id.message());
  }
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "queued");
  lua_pushstring(L, ctx.redact(outcome.error).c_str());
  lua_setfield(L, -2, "error");
  return 1;
}

const luaL_Reg kMailFunctions[] = {{"send", guarded<mail_send>}, {nullptr, nullptr}};

}  // namespace

void open_mail(lua_State* L) {
  luaL_newlib(L, kMailFunctions);
  lua_setglobal(L, "mail");
}

}  // namespace cronhost::bindings
