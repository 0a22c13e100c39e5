#include "api/run_kv.hpp"

#include "store/state_store.hpp"

namespace cronhost::api {

Status RunKv::check_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return Status::error("a key must be 1 to 256 bytes");
  return Status::ok();
}

Status RunKv::check_value(std::string_view json) {
  if (json.size() > kMaxValueBytes) return Status::error("the value is larger than 1 MiB as JSON");
  return Status::ok();
}

Result<std::optional<std::string>> RunKv::get(const std::string& key) const {
  if (auto it = writes_.find(key); it != writes_.end()) return it->second;
  if (!store_) return std::optional<std::string>();
  return store_->kv_get(job_, key);
}

Status RunKv::put(const std::string& key, std::string json) { return hold(key, std::move(json)); }

Status RunKv::erase(const std::string& key) { return hold(key, std::nullopt); }

Status RunKv::hold(const std::string& key, std::optional<std::string> value) {
  auto it = writes_.find(key);
  const size_t old_size = it == writes_.end() ? 0 : key.size() + (it->second ? it->second->size() : 0);
  const size_t new_size = key.size() + (value ? value->size() : 0);
  if (pending_bytes_ - old_size + new_size > kMaxPendingBytes)
    return Status::error("the run's state writes would pass 16 MiB (they are kept until the run ends)");
  pending_bytes_ = pending_bytes_ - old_size + new_size;
  writes_[key] = std::move(value);
  return Status::ok();
}

std::vector<store::KvWrite> RunKv::take_writes() {
  std::vector<store::KvWrite> out;
  out.reserve(writes_.size());
  for (auto& [key, value] : writes_) out.push_back({key, std::move(value)});
  writes_.clear();
  pending_bytes_ = 0;
  return out;
}

}  // namespace cronhost::api
