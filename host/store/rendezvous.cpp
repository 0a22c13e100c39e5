#include "store/rendezvous.hpp"

#include <algorithm>

namespace cronhost::store {

uint64_t rendezvous_score(std::string_view job, std::string_view host_id) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  auto mix = [&h](std::string_view text) {
    for (unsigned char c : text) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  };
  mix(job);
  mix(std::string_view("\0", 1));  // ("ab", "c") and ("a", "bc") score apart
  mix(host_id);
  // splitmix64's finaliser: FNV alone leaves ids that differ in their last byte close.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

std::string preferred_host(std::string_view job, const std::vector<std::string>& hosts) {
  const std::string* best = nullptr;
  uint64_t best_score = 0;
  for (const auto& host : hosts) {
    const uint64_t score = rendezvous_score(job, host);
    // Ties (vanishingly rare) go to the smaller id, so every host picks the same one.
    if (!best || score > best_score || (score == best_score && host < *best)) {
      best = &host;
      best_score = score;
    }
  }
  return best ? *best : std::string();
}

void LiveHosts::set(std::vector<std::string> ids) {
  std::lock_guard lock(mutex_);
  ids_ = std::move(ids);
}

bool LiveHosts::first_to_claim(std::string_view job, std::string_view me) const {
  std::lock_guard lock(mutex_);
  if (std::find(ids_.begin(), ids_.end(), me) == ids_.end()) return true;
  return preferred_host(job, ids_) == me;
}

}  // namespace cronhost::store
