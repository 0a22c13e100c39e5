// A run's view of its job's key-value store (state.get/put/delete, and the plugin vtable's
// state calls through the same binding). Reads see the run's own writes; the writes stay here
// and are committed with the run's outcome (store::Store::finish), so a run the host lost
// (kill -9, power cut) leaves none of them behind and its slot runs again from the same state.
// Belongs to the run's thread.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.hpp"
#include "util/status.hpp"

namespace cronhost::store {
class KvStore;
}

namespace cronhost::api {

class RunKv {
 public:
  // Writes held by one run, at most (the values are JSON, each at most 1 MiB).
  static constexpr size_t kMaxPendingBytes = size_t{16} << 20;

  // What one key and one value may be, checked by the adapters before get/put/erase (misuse:
  // they raise in Lua): "a key must be 1 to 256 bytes", "the value is larger than 1 MiB as JSON".
  static constexpr size_t kMaxKeyBytes = 256;
  static constexpr size_t kMaxValueBytes = 1 << 20;
  static Status check_key(std::string_view key);
  static Status check_value(std::string_view json);

  RunKv(store::KvStore* store, std::string job) : store_(store), job_(std::move(job)) {}

  // The value as JSON text: the run's own write if it made one, else the committed one.
  Result<std::optional<std::string>> get(const std::string& key) const;
  // Fails when the run's writes would pass kMaxPendingBytes.
  Status put(const std::string& key, std::string json);
  Status erase(const std::string& key);
  // The writes, for the run's outcome; leaves none behind.
  std::vector<store::KvWrite> take_writes();

 private:
  Status hold(const std::string& key, std::optional<std::string> value);

  store::KvStore* store_;
  std::string job_;
  std::map<std::string, std::optional<std::string>> writes_;  // nothing: deleted
  size_t pending_bytes_ = 0;
};

}  // namespace cronhost::api
