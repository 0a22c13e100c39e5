// The plain fields of a capability's arguments, read the same way by both adapters: `Args` is
// bindings::TableArgs (a Lua table) or plugin::JsonArgs (a plugin's JSON), which share has,
// string, strings, string_map, boolean and error. Fields whose reading differs by adapter (a
// JSON body, a payload, attachments) stay with the adapter.
#pragma once
#include "api/approvals.hpp"
#include "api/db_dump.hpp"
#include "api/mail_request.hpp"
#include "api/run_http.hpp"
#include "api/run_storage.hpp"
#include "util/printable.hpp"

namespace cronhost::api {

template <class Args>
void read_mail_fields(const Args& args, MailRequest& request) {
  request.to = args.strings("to");
  request.cc = args.strings("cc");
  request.bcc = args.strings("bcc");
  request.subject = args.string("subject");
  request.text = args.string("text");
  request.html = args.string("html");
}

template <class Args>
void read_http_fields(const Args& args, HttpRequest& request, HttpRequestFields& fields) {
  fields.method = args.string("method").value_or("GET");
  request.url = *args.string("url", true);
  request.headers = args.string_map("headers");
  if (auto body = args.string("body")) request.body = *body;
  fields.has_body = args.has("body");
}

template <class Args>
DumpOptions read_dump_options(const Args& args) {
  DumpOptions options;
  options.path = *args.string("path", true);
  if (auto format = args.string("format")) {
    auto named = dump_format_named(*format);
    if (!named) args.error("field 'format' must be 'plain' or 'custom' (got '" + printable(*format, 64) + "')");
    options.format = *named;
  }
  options.gzip = args.boolean("gzip").value_or(false);
  return options;
}

template <class Args>
ApprovalAskArgs read_ask_fields(const Args& args) {
  ApprovalAskArgs given;
  given.kind = *args.string("kind", true);
  given.key = *args.string("key", true);
  given.group = args.string("group");
  given.once = args.boolean("once").value_or(false);
  given.title = *args.string("title", true);
  return given;
}

// storage.put's source ({path} or {content}) and options ({content_type, metadata}).
template <class Args>
StorageSource read_storage_source(const Args& args) {
  return StorageSource{args.string("path"), args.string("content")};
}
template <class Args>
PutOptions read_storage_put_options(const Args& args) {
  PutOptions options;
  options.content_type = args.string("content_type").value_or(options.content_type);
  options.metadata = args.string_map("metadata");
  return options;
}

template <class Args>
StoragePruneOptions read_storage_prune_options(const Args& args) {
  return StoragePruneOptions{args.number("older_than"), args.number("keep")};
}

}  // namespace cronhost::api
