// Reads each table source (config/table_source.hpp) on its interval and hands the jobs its
// rows make to the registry, as a reload of that one file would. One thread for all sources;
// a read takes at most min(every, 30 s). A database that cannot be read, or a query that
// fails, keeps the source's last good jobs: the error is logged once and shown in /health.
// A source with listen: (PostgreSQL) also has a connection of its own LISTENing
// (api/pg_listener.hpp): a NOTIFY makes its next read due at once, at most one read per
// kNotifyGap however many arrive; every: stays the fallback.
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/host_config.hpp"
#include "config/job_loader.hpp"
#include "dispatch/job_registry.hpp"

namespace cronhost::api {
class PgListener;
}

namespace cronhost::dispatch {

// Reads after NOTIFYs are this far apart at least: a burst of writes in the app's admin UI
// (one NOTIFY per row) costs one read.
constexpr std::chrono::milliseconds kNotifyGap{200};

struct TableSourceStatus {
  std::string source;
  std::string db;
  int64_t last_read_ms = 0;  // the last good read; 0: none yet
  size_t rows = 0, jobs = 0;
  std::string error;                  // the last read's failure; empty: it worked
  std::vector<std::string> problems;  // rows left out, and why
};

class TableSourceReader {
 public:
  explicit TableSourceReader(JobRegistry& registry);
  ~TableSourceReader();

  // The sources of the latest load and the host config they read through (at start and on
  // SIGHUP); each is read at once. A source no longer there takes its jobs with it.
  void set_sources(std::vector<config::TableSource> sources, std::shared_ptr<const config::HostConfig> host,
                   const config::LoadOptions& options);
  void start();
  void stop();
  std::vector<TableSourceStatus> status() const;
  // The source's channel had a NOTIFY (or its listener reconnected and may have missed one):
  // read it again soon. Any thread.
  void notified(const std::string& source);

 private:
  struct Entry {
    config::TableSource source;
    int64_t due_ms = 0;
    int64_t read_at_ms = 0;  // when the last read began
    std::shared_ptr<const config::TableJobs> last;  // the last good read's: unchanged rows keep these jobs
    TableSourceStatus status;
  };
  void loop();
  // Reads one source into `made`; called without the lock, on the reader's thread.
  TableSourceStatus read(const config::TableSource& source, const config::HostConfig& host,
                         const config::LoadOptions& options, const TableSourceStatus& before,
                         const config::TableJobs& previous, config::TableJobs& made);

  JobRegistry& registry_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Entry> entries_;
  std::shared_ptr<const config::HostConfig> host_;
  config::LoadOptions options_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  // One per source with listen:, by source name. Touched only by set_sources and stop (the
  // control thread), never under mutex_: a listener's callback takes it.
  std::map<std::string, std::unique_ptr<api::PgListener>> listeners_;
};

}  // namespace cronhost::dispatch
