// A plugin's call to the host, as plain data: what the C vtable turns each call into, what
// travels over the socket from an isolated plugin, and what the host serves. Plain values;
// safe to copy between threads.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "cronhost/plugin.h"

namespace cronhost::plugin {

// One per host capability. The numbers travel over the socket: append only.
enum class Op : uint8_t {
  kLog = 1,        // a: level ("0".."3"), b: text
  kParams,         // -> JSON object
  kStateGet,       // a: key -> JSON value or null
  kStatePut,       // a: key, b: JSON value
  kStateDelete,    // a: key
  kHttp,           // a: request JSON -> response JSON
  kMail,           // a: message JSON -> outcome JSON
  kDbQuery,        // a: db, b: sql, c: params JSON array -> rows JSON
  kDbExec,         // a: db, b: sql, c: params JSON array -> changes (decimal)
  kDbBackup,       // a: db, b: dest -> info JSON
  kFiles,          // a: op, b: args JSON -> JSON (read: the bytes)
  kRegistryTags,   // a: image -> tags JSON
  kRegistryLatest, // a: image, b: options JSON -> version text
  kApprovals,      // a: op, b: args JSON -> JSON
  kSetResult,      // a: JSON
  kDone,           // a: run()'s status (decimal), b: the error text; the child's last message
  // Isolated Lua runs only (not in the C vtable):
  kJob,            // -> the job table as JSON
  kLuaCall,        // a: "module.function", b: packed arguments -> packed results (see client.lua)
  // ABI 1.2 (and isolated Lua's db.dump):
  kDbDump,         // a: db, b: options JSON {"path","format","gzip"} -> outcome JSON
  // ABI 1.3:
  kStorage,        // a: op, b: args JSON {"store", ...} -> JSON
};
constexpr uint8_t kLastOp = static_cast<uint8_t>(Op::kStorage);

std::string_view op_name(Op op);

struct Call {
  Op op = Op::kParams;
  std::string a, b, c;
};

struct Reply {
  int status = CRONHOST_OK;  // a cronhost_status_t
  std::string payload;       // the value on success, the message otherwise

  static Reply ok(std::string value = {}) { return {CRONHOST_OK, std::move(value)}; }
  static Reply error(int status, std::string message) { return {status, std::move(message)}; }
};

// "CRONHOST_EDENIED" and friends, for messages.
std::string_view status_name(int status);

}  // namespace cronhost::plugin
