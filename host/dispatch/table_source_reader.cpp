#include "dispatch/table_source_reader.hpp"

#include <algorithm>
#include <set>

#include "api/pg_listener.hpp"
#include "dispatch/table_source_query.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace cronhost::dispatch {
namespace {

constexpr auto kMaxRead = std::chrono::seconds(30);

}  // namespace

TableSourceReader::TableSourceReader(JobRegistry& registry) : registry_(registry) {}

TableSourceReader::~TableSourceReader() { stop(); }

void TableSourceReader::set_sources(std::vector<config::TableSource> sources,
                                    std::shared_ptr<const config::HostConfig> host, const config::LoadOptions& options) {
  std::vector<std::string> gone;
  // The listeners start again with the sources: old ones stop (outside the lock: their
  // callbacks take it), new ones connect and read once.
  listeners_.clear();
  for (const auto& source : sources) {
    auto db = host->databases.find(source.db);
    if (source.listen.empty() || db == host->databases.end() || db->second.engine != config::DbEngine::kPostgresql)
      continue;
    const std::string name = source.name;
    listeners_[name] = std::make_unique<api::PgListener>(name, db->second, source.listen, [this, name] { notified(name); });
  }
  {
    std::lock_guard lock(mutex_);
    std::vector<Entry> next;
    for (auto& source : sources) {
      Entry entry{.source = std::move(source)};
      auto old = std::find_if(entries_.begin(), entries_.end(),
                              [&](const Entry& e) { return e.source.name == entry.source.name; });
      if (old != entries_.end()) entry.status = old->status;
      entry.status.source = entry.source.name;
      entry.status.db = entry.source.db;
      next.push_back(std::move(entry));
    }
    for (const auto& old : entries_)
      if (std::none_of(next.begin(), next.end(), [&](const Entry& e) { return e.source.name == old.source.name; }))
        gone.push_back(old.source.name);
    entries_ = std::move(next);
    host_ = std::move(host);
    options_ = options;
  }
  for (const auto& name : gone) registry_.set_table_jobs(name, {}, {});
  wake_.notify_all();
}

void TableSourceReader::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void TableSourceReader::stop() {
  stopping_ = true;
  listeners_.clear();
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<TableSourceStatus> TableSourceReader::status() const {
  std::lock_guard lock(mutex_);
  std::vector<TableSourceStatus> out;
  for (const auto& entry : entries_) out.push_back(entry.status);
  return out;
}

void TableSourceReader::notified(const std::string& source) {
  {
    std::lock_guard lock(mutex_);
    for (auto& e : entries_)
      if (e.source.name == source) e.due_ms = std::min(e.due_ms, std::max(now_ms(), e.read_at_ms + kNotifyGap.count()));
  }
  wake_.notify_all();
}

void TableSourceReader::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const int64_t now = now_ms();
    auto due = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.due_ms <= now; });
    if (due == entries_.end()) {
      int64_t next = now + 60'000;
      for (const auto& e : entries_) next = std::min(next, e.due_ms);
      wake_.wait_for(lock, std::chrono::milliseconds(next - now));
      continue;
    }
    // Copies: a SIGHUP may replace the sources while this one is read.
    const config::TableSource source = due->source;
    const auto host = host_;
    const config::LoadOptions options = options_;
    const TableSourceStatus before = due->status;
    const auto previous = due->last ? due->last : std::make_shared<const config::TableJobs>();
    due->due_ms = now + source.every.count();
    due->read_at_ms = now;
    lock.unlock();
    config::TableJobs made;
    TableSourceStatus after = read(source, *host, options, before, *previous, made);
    lock.lock();
    // Under the lock: a SIGHUP that dropped the source meanwhile has already taken its jobs.
    for (auto& e : entries_) {
      if (e.source.name != source.name) continue;
      e.status = std::move(after);
      if (!e.status.error.empty()) continue;
      registry_.set_table_jobs(source.name, made.jobs, made.definitions);
      e.last = std::make_shared<const config::TableJobs>(std::move(made));
    }
  }
}

TableSourceStatus TableSourceReader::read(const config::TableSource& source, const config::HostConfig& host,
                                          const config::LoadOptions& options, const TableSourceStatus& before,
                                          const config::TableJobs& previous, config::TableJobs& made) {
  TableSourceStatus status = before;
  auto rows = query_table_source(source, host, std::min<std::chrono::milliseconds>(source.every, kMaxRead),
                                 [this] { return stopping_.load(); });
  if (!rows) {
    if (rows.message() != before.error)
      log_event(spdlog::level::err, "a table source cannot be read; its jobs stay as they were",
                {{"source", source.name}, {"file", source.file}, {"error", rows.message()}});
    status.error = rows.message();
    return status;
  }
  if (!before.error.empty()) log_event(spdlog::level::info, "a table source is read again", {{"source", source.name}});
  made = config::expand_table_source(source, rows.value(), options, &previous);
  const std::set<std::string> known(before.problems.begin(), before.problems.end());
  for (const auto& problem : made.problems)
    if (!known.count(problem))
      log_event(spdlog::level::err, "a table source's row makes no job", {{"source", source.name}, {"problem", problem}});
  status.error.clear();
  status.problems = std::move(made.problems);
  status.rows = rows->rows.size();
  status.jobs = made.jobs.size();
  status.last_read_ms = now_ms();
  return status;
}

}  // namespace cronhost::dispatch
