#include "store/pg_kv_writes.hpp"

#include "store/pg_session.hpp"
#include "store/pg_values.hpp"

namespace cronhost::store {

using namespace pg;

void PgKvWrites::put(const std::string& job, const std::string& key, std::string value_json, int64_t at) {
  writes_[{job, key}] = Write{std::move(value_json), at};
}

void PgKvWrites::erase(const std::string& job, const std::string& key) { writes_[{job, key}] = Write{std::nullopt, 0}; }

void PgKvWrites::write(PgSession& db) {
  // One statement per row, in (job, key) order: few rows per transaction (a run's state writes).
  for (const auto& [id, write] : writes_) {
    if (write.value_json)
      db.run("INSERT INTO kv (job, key, value, updated_at) VALUES ($1, $2, $3, $4::bigint) ON CONFLICT (job, key) "
             "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
             {param(id.first), param(id.second), param(*write.value_json), param(write.at)});
    else
      db.run("DELETE FROM kv WHERE job = $1 AND key = $2", {param(id.first), param(id.second)});
  }
  writes_.clear();
}

}  // namespace cronhost::store
