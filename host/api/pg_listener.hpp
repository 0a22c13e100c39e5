// A connection of its own to a PostgreSQL database that LISTENs on one channel, for a table
// source's listen: (dispatch/table_source_reader.hpp) and an executor's queued runs
// (cli/run_command.cpp). Its own thread: connecting, waiting
// and reconnecting never hold up the scheduler or the reader.
//
// on_notify is called (on the listener's thread) for each NOTIFY on the channel and after each
// (re)connection, since NOTIFYs sent while it was away are lost. A dropped connection (the
// server restarted, pg_terminate_backend) is opened again after 0.5 s, doubling to 30 s while
// it keeps failing; each failure is logged once until it works again.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "config/host_config.hpp"

namespace cronhost::api {

class PgListener {
 public:
  // Starts at once. `source` names it in logs and in pg_stat_activity's application_name
  // ("cronhost listen SOURCE").
  PgListener(std::string source, config::DatabaseSettings settings, std::string channel, std::function<void()> on_notify);
  // Stops within about kPollTick and closes the connection.
  ~PgListener();
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

  // How often the thread looks up from waiting to see whether it must stop.
  static constexpr std::chrono::milliseconds kPollTick{200};

 private:
  void loop();

  const std::string source_;
  const config::DatabaseSettings settings_;
  const std::string channel_;
  const std::function<void()> on_notify_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace cronhost::api
