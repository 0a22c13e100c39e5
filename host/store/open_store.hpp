// Opens the state store the host config names (state:): a SQLite file on this machine, or a
// PostgreSQL database that several hosts share (store/pg_store.hpp).
#pragma once
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>

#include "config/host_config.hpp"
#include "store/state_store.hpp"

namespace cronhost::store {

// Where the state lives: `server` set means PostgreSQL, else the SQLite `file`.
struct StateLocation {
  std::filesystem::path file;
  std::optional<config::DatabaseSettings> server;
  std::chrono::milliseconds lease{5000};  // cluster.lease: a PostgreSQL daemon's run leases
};

// What the store is opened for.
enum class OpenMode {
  kDaemon,   // the host: migrates, takes the host lock, queues writes
  kReader,   // history and list: reads only, while a host may be writing
  kClient,   // approve, cancel: short writes beside a running host, no migration
  kScratch,  // dry run: a private in-memory copy; writes go nowhere real
};

// The config's state:, or `override_arg` (--state: a file path or a postgresql:// URL, whose
// password then comes from PGPASSWORD or ~/.pgpass) when it is not empty.
StateLocation state_location(const config::HostConfig& config, const std::string& override_arg);

// The file's path or the server's URL (which never holds the password), for logs.
std::string describe(const StateLocation& where);

Result<std::unique_ptr<Store>> open_store(const StateLocation& where, OpenMode mode);

}  // namespace cronhost::store
