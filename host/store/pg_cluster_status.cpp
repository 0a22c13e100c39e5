#include "store/pg_cluster_status.hpp"

#include "store/pg_store.hpp"
#include "store/pg_values.hpp"
#include "store/pg_writer.hpp"

namespace cronhost::store {

using namespace pg;

Result<ClusterCounts> PgStore::cluster_counts(const std::string& host_id, std::chrono::milliseconds lease) {
  try {
    return db_->call([&](PgSession& db) {
      // Live and ready as the reaper counts them (store/pg_cluster.cpp): a heartbeat younger
      // than a lease, and a server up for a lease. The queue's age is by the server's clock
      // against the claiming host's queued_at (a host clock: hosts agree to within NTP).
      auto rows = db.run(
          "SELECT (SELECT count(*) FROM hosts WHERE stopped_at IS NULL "
          "AND heartbeat_at > now() - $2::bigint * interval '1 millisecond'), "
          "(SELECT count(*) FROM runs WHERE owner IS NOT NULL AND status IN ('queued', 'running') "
          "AND lease_until > now()), "
          "(SELECT count(*) FROM runs WHERE owner = $1 AND status IN ('queued', 'running') AND lease_until > now()), "
          "(SELECT count(*) FROM runs WHERE status = 'queued'), "
          "(SELECT GREATEST(0, (extract(epoch FROM now()) * 1000)::bigint - min(queued_at)) FROM runs "
          "WHERE status = 'queued'), "
          "pg_postmaster_start_time() < now() - $2::bigint * interval '1 millisecond'",
          {param(host_id), param(int64_t{lease.count()})});
      const PgRow& row = rows.rows.at(0);
      ClusterCounts counts;
      counts.hosts_alive = integer(row[0]);
      counts.leases_held = integer(row[1]);
      counts.leases_held_here = integer(row[2]);
      counts.queue_depth = integer(row[3]);
      counts.queue_oldest_age_ms = optional_int(row[4]).value_or(0);
      counts.server_up_a_lease = boolean(row[5]);
      return counts;
    });
  } catch (const std::exception& e) {
    return Result<ClusterCounts>::error(std::string("cannot read the cluster's state: ") + e.what());
  }
}

PgClusterStatus::PgClusterStatus(const PgStore& daemon, PgStore& reader) : daemon_(daemon), reader_(reader) {}

ClusterStatus PgClusterStatus::read() {
  ClusterStatus status;
  status.host = daemon_.host_name();
  status.id = daemon_.host_id();
  status.runs_reaped = daemon_.runs_reaped();
  status.late_completions_refused = daemon_.late_completions_refused();
  status.claim_conflicts = daemon_.claim_conflicts();
  const bool reaper = daemon_.reaper_ready();
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (read_at_ == std::chrono::steady_clock::time_point{} || now - read_at_ >= kRefresh) {
    auto counts = reader_.cluster_counts(daemon_.host_id(), daemon_.lease());
    read_at_ = std::chrono::steady_clock::now();
    if (counts) {
      counts_ = counts.value();
      error_.clear();
    } else {
      counts_.reset();
      error_ = counts.message();
    }
  }
  status.counts = counts_;
  status.error = error_;
  status.counts_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - read_at_).count();
  if (status.counts_age_ms < 0) status.counts_age_ms = 0;
  status.reaper_ready = reaper && counts_ && counts_->server_up_a_lease;
  return status;
}

}  // namespace cronhost::store
