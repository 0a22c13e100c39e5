#include "plugin/host_api_table.hpp"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace cronhost::plugin {
namespace {

// A (pointer, length) pair from the plugin; a null pointer is only fine with length 0.
bool text(const char* data, size_t len, std::string& out) {
  if (!data && len > 0) return false;
  out.assign(data ? data : "", len);
  return true;
}

bool give(cronhost_buf_t* out, const std::string& value) {
  if (!out) return true;
  out->data = static_cast<char*>(std::malloc(value.size() + 1));
  out->size = 0;
  if (!out->data) return false;
  std::memcpy(out->data, value.data(), value.size());
  out->data[value.size()] = '\0';
  out->size = value.size();
  return true;
}

// Argument checks, the call, the result handed over.
int serve_call(cronhost_run_t* handle, Op op, std::initializer_list<std::pair<const char*, size_t>> args,
               cronhost_buf_t* out) {
  if (out) *out = {nullptr, 0};
  if (!handle) return CRONHOST_EINVAL;
  PluginRun& run = PluginRun::from(handle);
  Call call;
  call.op = op;
  std::string* fields[] = {&call.a, &call.b, &call.c};
  size_t i = 0;
  for (const auto& [data, len] : args) {
    if (!text(data, len, *fields[i++])) {
      run.set_last_error(std::string(op_name(op)) + ": argument " + std::to_string(i) + " is a null pointer with a length");
      return CRONHOST_EINVAL;
    }
  }
  Reply reply = run.call(std::move(call));
  if (op == Op::kLog) return CRONHOST_OK;  // log never fails, and leaves last_error for the plugin
  if (reply.status != CRONHOST_OK) {
    run.set_last_error(std::move(reply.payload));
    return reply.status;
  }
  run.set_last_error({});
  if (!give(out, reply.payload)) {
    run.set_last_error("out of memory for the reply");
    return CRONHOST_EHOST;
  }
  return CRONHOST_OK;
}

// Every capability call goes through here: no C++ exception may unwind into the plugin's C.
int serve(cronhost_run_t* handle, Op op, std::initializer_list<std::pair<const char*, size_t>> args, cronhost_buf_t* out) {
  try {
    return serve_call(handle, op, args, out);
  } catch (const std::exception& e) {
    if (handle) PluginRun::from(handle).set_last_error(std::string("the host failed to serve the call: ") + e.what());
    return CRONHOST_EHOST;
  }
}

void host_log(cronhost_run_t* run, int level, const char* data, size_t len) {
  const int clamped = level < CRONHOST_LOG_DEBUG ? CRONHOST_LOG_DEBUG : level > CRONHOST_LOG_ERROR ? CRONHOST_LOG_ERROR : level;
  const std::string level_text = std::to_string(clamped);
  serve(run, Op::kLog, {{level_text.data(), level_text.size()}, {data, len}}, nullptr);
}

int host_params(cronhost_run_t* run, cronhost_buf_t* out) { return serve(run, Op::kParams, {}, out); }

int host_state_get(cronhost_run_t* run, const char* key, size_t key_len, cronhost_buf_t* out) {
  return serve(run, Op::kStateGet, {{key, key_len}}, out);
}
int host_state_put(cronhost_run_t* run, const char* key, size_t key_len, const char* json, size_t json_len) {
  return serve(run, Op::kStatePut, {{key, key_len}, {json, json_len}}, nullptr);
}
int host_state_delete(cronhost_run_t* run, const char* key, size_t key_len) {
  return serve(run, Op::kStateDelete, {{key, key_len}}, nullptr);
}

int host_http(cronhost_run_t* run, const char* request, size_t len, cronhost_buf_t* out) {
  return serve(run, Op::kHttp, {{request, len}}, out);
}
int host_mail(cronhost_run_t* run, const char* message, size_t len, cronhost_buf_t* out) {
  return serve(run, Op::kMail, {{message, len}}, out);
}

int host_db_query(cronhost_run_t* run, const char* db, size_t db_len, const char* sql, size_t sql_len, const char* params,
                  size_t params_len, cronhost_buf_t* out) {
  return serve(run, Op::kDbQuery, {{db, db_len}, {sql, sql_len}, {params, params_len}}, out);
}
int host_db_exec(cronhost_run_t* run, const char* db, size_t db_len, const char* sql, size_t sql_len, const char* params,
                 size_t params_len, int64_t* changes) {
  cronhost_buf_t out{nullptr, 0};
  const int status = serve(run, Op::kDbExec, {{db, db_len}, {sql, sql_len}, {params, params_len}}, &out);
  if (status == CRONHOST_OK && changes) {
    *changes = 0;
    std::from_chars(out.data, out.data + out.size, *changes);
  }
  std::free(out.data);
  return status;
}
int host_db_backup(cronhost_run_t* run, const char* db, size_t db_len, const char* dest, size_t dest_len, cronhost_buf_t* out) {
  return serve(run, Op::kDbBackup, {{db, db_len}, {dest, dest_len}}, out);
}

int host_db_dump(cronhost_run_t* run, const char* db, size_t db_len, const char* options, size_t options_len,
                 cronhost_buf_t* out) {
  return serve(run, Op::kDbDump, {{db, db_len}, {options, options_len}}, out);
}

int host_storage(cronhost_run_t* run, const char* op, size_t op_len, const char* args, size_t args_len, cronhost_buf_t* out) {
  return serve(run, Op::kStorage, {{op, op_len}, {args, args_len}}, out);
}

int host_files(cronhost_run_t* run, const char* op, size_t op_len, const char* args, size_t args_len, cronhost_buf_t* out) {
  return serve(run, Op::kFiles, {{op, op_len}, {args, args_len}}, out);
}

int host_registry_tags(cronhost_run_t* run, const char* image, size_t len, cronhost_buf_t* out) {
  return serve(run, Op::kRegistryTags, {{image, len}}, out);
}
int host_registry_latest(cronhost_run_t* run, const char* image, size_t len, const char* options, size_t options_len,
                         cronhost_buf_t* out) {
  return serve(run, Op::kRegistryLatest, {{image, len}, {options, options_len}}, out);
}

int host_approvals(cronhost_run_t* run, const char* op, size_t op_len, const char* args, size_t args_len, cronhost_buf_t* out) {
  return serve(run, Op::kApprovals, {{op, op_len}, {args, args_len}}, out);
}

int host_set_result(cronhost_run_t* run, const char* json, size_t len) { return serve(run, Op::kSetResult, {{json, len}}, nullptr); }

void host_set_error(cronhost_run_t* run, const char* data, size_t len) {
  std::string message;
  if (run && text(data, len, message)) PluginRun::from(run).set_error(std::move(message));
}

const char* host_last_error(cronhost_run_t* run, size_t* len) {
  static const std::string kNoRun = "no run handle";
  const std::string& message = run ? PluginRun::from(run).last_error() : kNoRun;
  if (len) *len = message.size();
  return message.c_str();
}

int host_should_stop(cronhost_run_t* run) { return run && PluginRun::from(run).stop_requested() ? 1 : 0; }

int64_t host_time_left_ms(cronhost_run_t* run) {
  if (!run) return 0;
  const int64_t left = PluginRun::from(run).time_left_ms();
  return left > 0 ? left : 0;
}

void host_free_buf(cronhost_buf_t* buf) {
  if (!buf) return;
  std::free(buf->data);
  buf->data = nullptr;
  buf->size = 0;
}

const cronhost_host_api_t kTable = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_host_api_t), host_log,     host_params,       host_state_get,
    host_state_put,       host_state_delete,           host_http,    host_mail,         host_db_query,
    host_db_exec,         host_db_backup,              host_files,   host_registry_tags, host_registry_latest,
    host_approvals,       host_set_result,             host_set_error, host_last_error, host_should_stop,
    host_free_buf,        host_time_left_ms,           host_db_dump,    host_storage,
};

}  // namespace

const cronhost_host_api_t& host_api_table() { return kTable; }

std::string_view op_name(Op op) {
  switch (op) {
    case Op::kLog: return "log";
    case Op::kParams: return "params";
    case Op::kStateGet: return "state_get";
    case Op::kStatePut: return "state_put";
    case Op::kStateDelete: return "state_delete";
    case Op::kHttp: return "http_request";
    case Op::kMail: return "mail_send";
    case Op::kDbQuery: return "db_query";
    case Op::kDbExec: return "db_exec";
    case Op::kDbBackup: return "db_backup";
    case Op::kFiles: return "files";
    case Op::kRegistryTags: return "registry_tags";
    case Op::kRegistryLatest: return "registry_latest";
    case Op::kApprovals: return "approvals";
    case Op::kSetResult: return "set_result";
    case Op::kDone: return "done";
    case Op::kJob: return "job";
    case Op::kLuaCall: return "lua_call";
    case Op::kDbDump: return "db_dump";
    case Op::kStorage: return "storage";
  }
  return "unknown";
}

std::string_view status_name(int status) {
  switch (status) {
    case CRONHOST_OK: return "CRONHOST_OK";
    case CRONHOST_EFAILED: return "CRONHOST_EFAILED";
    case CRONHOST_EDENIED: return "CRONHOST_EDENIED";
    case CRONHOST_EINVAL: return "CRONHOST_EINVAL";
    case CRONHOST_ESTOP: return "CRONHOST_ESTOP";
    case CRONHOST_EHOST: return "CRONHOST_EHOST";
  }
  return "an unknown status";
}

}  // namespace cronhost::plugin
