// The C ABI's host calls (cronhost/plugin.h: state, http, mail, db, files, registry,
// approvals), served in C++ over the same host/api objects the Lua API uses, for inline and
// isolated plugins alike (and for an isolated Lua script's db calls). This file only converts
// a Call's JSON text to the api's arguments and the answer back; allow: lists, dry-run
// capture and the rules are the api's.
//
// Statuses: CRONHOST_EDENIED when the message names the allow: key that would grant the call
// ("(allow.http)"), CRONHOST_EINVAL for other misuse, CRONHOST_EFAILED when the outside world
// failed, CRONHOST_ESTOP once the run is past its deadline or cancelled. Messages are redacted.
//
// A database is opened once per name for the whole run, so a dry run's writes stay visible to
// its later reads; the connections close with this object (at the end of the run).
// Belongs to the thread serving the run.
#pragma once
#include <map>
#include <string>

#include "api/call_result.hpp"
#include "api/db_connection.hpp"
#include "plugin/call.hpp"
#include "run/run_context.hpp"

namespace cronhost::plugin {

class HostCalls {
 public:
  explicit HostCalls(run::RunContext& ctx) : ctx_(ctx) {}
  ~HostCalls();
  HostCalls(const HostCalls&) = delete;
  HostCalls& operator=(const HostCalls&) = delete;

  // One of the capability ops (kStateGet ... kApprovals, kDbDump, kStorage); EINVAL for any other.
  Reply serve(const Call& call);

 private:
  Reply dispatch(const Call& call);
  Reply state_get(const Call& call);
  Reply state_put(const Call& call);
  Reply state_delete(const Call& call);
  Reply http(const Call& call);
  Reply mail(const Call& call);
  Reply registry_tags(const Call& call);
  Reply registry_latest(const Call& call);
  Reply approvals(const Call& call);
  Reply files(const Call& call);  // host_calls_files.cpp
  Reply storage(const Call& call);  // host_calls_storage.cpp
  Reply db_query(const Call& call);  // host_calls_db.cpp, as the db_* below
  Reply db_exec(const Call& call);
  Reply db_backup(const Call& call);
  Reply db_dump(const Call& call);

  // The run's connection to `name`, opened at the first call.
  api::DbResult<api::DbConnection*> connection(const std::string& name);
  template <typename T>
  Reply db_failed(const api::DbResult<T>& result);

  // The replies for a failure: misuse (EDENIED or EINVAL) or the world (EFAILED), either way
  // ESTOP when the run must stop.
  Reply misuse(const std::string& message);
  Reply failed(const std::string& message);
  template <typename T>
  Reply call_failed(const api::CallResult<T>& result) {
    return result.fault() == api::CallFault::kMisuse ? misuse(result.message()) : failed(result.message());
  }
  Reply stopped();

  run::RunContext& ctx_;
  std::map<std::string, api::DbConnection*> connections_;  // owned by ctx_.databases()
};

}  // namespace cronhost::plugin
