// The databases one run has open. db.open (and a plugin's db calls) come here: the name must
// be in allow.db and in the host config's databases:, a run holds at most 8 connections (an
// engine's memory lies outside the run's Lua memory cap), and every connection still open is
// closed with the run, which rolls back all a dry run wrote.
#pragma once
#include <memory>
#include <vector>

#include "api/db_connection.hpp"
#include "api/db_sqlite.hpp"
#include "config/job_spec.hpp"

namespace cronhost::api {

class DbSessions {
 public:
  static constexpr size_t kMaxOpen = 8;

  DbSessions(const config::JobSpec& job, const config::HostConfig* host, DbRunScope scope)
      : job_(job), host_(host), scope_(std::move(scope)) {}
  ~DbSessions();
  DbSessions(const DbSessions&) = delete;
  DbSessions& operator=(const DbSessions&) = delete;

  // kRefused: not in allow.db; kMisuse: not in databases:, or 8 already open; kServer: the
  // engine could not connect.
  DbResult<DbConnection*> open(const std::string& name, const DbOpenOptions& options = {});
  // Closes `conn` (one this opened) and forgets it.
  void close(DbConnection* conn);
  size_t open_count() const { return open_.size(); }

 private:
  const config::JobSpec& job_;
  const config::HostConfig* host_;
  DbRunScope scope_;
  std::vector<std::unique_ptr<DbConnection>> open_;
};

}  // namespace cronhost::api
