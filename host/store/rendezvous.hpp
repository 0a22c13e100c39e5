// Which live host claims a job's slots first (issue 14: spread jobs over the hosts so they
// rarely race). Rendezvous hashing: every host scores (job, host id) with the same hash and
// the highest score wins, so all hosts agree without talking, and a host joining or leaving
// moves only the jobs it wins or won. LiveHosts holds the list the heartbeat last read;
// thread-safe.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cronhost::store {

// The same on every host and build (FNV-1a, then a 64-bit finaliser to spread close ids).
uint64_t rendezvous_score(std::string_view job, std::string_view host_id);

// The host among `hosts` with the highest score for `job`; empty when `hosts` is.
std::string preferred_host(std::string_view job, const std::vector<std::string>& hosts);

class LiveHosts {
 public:
  // The ids of the hosts alive now (heartbeat within a lease, not stopped), in any order.
  void set(std::vector<std::string> ids);
  // Whether `me` claims `job`'s slots first. True while the list is unknown, empty or lacks
  // `me` (just started, cut off): better two hosts race than no host fires.
  bool first_to_claim(std::string_view job, std::string_view me) const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> ids_;  // guarded by mutex_
};

}  // namespace cronhost::store
