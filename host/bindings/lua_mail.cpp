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
//
// This file only converts between Lua and api/mail_request and api/mail_send, which plugins use too.
#include "api/call_fields.hpp"
#include "api/mail_request.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

void read_attachments(lua_State* L, const TableArgs& args, api::MailRequest& request) {
  if (args.push("attachments") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1)) args.error("field 'attachments' must be a list of {path=...} or {name=, content=, type=}");
  const int list = lua_gettop(L);
  for (lua_Integer i = 1; i <= luaL_len(L, list); ++i) {
    lua_geti(L, list, i);
    TableArgs item(L, -1, args.function() + " attachment " + std::to_string(i), {"path", "name", "content", "type"});
    request.attachments.push_back({item.string("path"), item.string("name"), item.string("content"), item.string("type")});
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

int mail_send(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  if (auto configured = ctx.mail().check_configured(); !configured) raise(L, "mail.send: " + configured.message());
  TableArgs args(L, 1, "mail.send", {"to", "cc", "bcc", "subject", "text", "html", "attachments"});
  api::MailRequest request;
  api::read_mail_fields(args, request);
  read_attachments(L, args, request);
  auto prepared = api::prepare_mail(ctx.job, ctx.effects, ctx.mail(), request);
  if (!prepared) raise(L, prepared.message());
  auto sent = ctx.mail().send(prepared->message, prepared->sizes);
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
