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
#include "api/mail_send.hpp"
#include "api/permissions.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"
#include "util/http_header.hpp"

namespace cronhost::bindings {
namespace {

constexpr size_t kMaxAttachmentBytes = size_t{25} << 20;  // what common relays accept in total

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
  ctx.mail().stamp(message);
  return message;
}

int mail_send(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  if (auto configured = ctx.mail().check_configured(); !configured) raise(L, "mail.send: " + configured.message());
  std::vector<size_t> sizes;
  const api::MailMessage message = read_message(L, ctx, sizes);
  auto sent = ctx.mail().send(message, sizes);
  if (!sent) return fail(L, "mail.send: " + sent.message());
  if (sent->stopped) run::LuaSandbox::check_stop(L);  // raises the run's stop error
  lua_newtable(L);
  lua_pushstring(L, sent->message_id.c_str());
  lua_setfield(L, -2, "message_id");
  for (const auto& [flag, set] : {std::pair{"dry_run", sent->dry_run}, {"sent", sent->sent}, {"queued", sent->queued}})
    if (set) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, flag);
    }
  if (sent->queued) {
    lua_pushstring(L, sent->error.c_str());
    lua_setfield(L, -2, "error");
  }
  return 1;
}

const luaL_Reg kMailFunctions[] = {{"send", guarded<mail_send>}, {nullptr, nullptr}};

}  // namespace

void open_mail(lua_State* L) {
  luaL_newlib(L, kMailFunctions);
  lua_setglobal(L, "mail");
}

}  // namespace cronhost::bindings
