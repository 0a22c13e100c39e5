#include "store/open_store.hpp"

#include "store/pg_scratch.hpp"
#include "store/pg_store.hpp"

namespace cronhost::store {

StateLocation state_location(const config::HostConfig& config, const std::string& override_arg) {
  if (override_arg.empty()) return {config.state_file, config.state_server, config.cluster_lease};
  if (override_arg.rfind("postgresql://", 0) == 0 || override_arg.rfind("postgres://", 0) == 0) {
    config::DatabaseSettings server;
    server.engine = config::DbEngine::kPostgresql;
    server.url = override_arg;
    return {config.state_file, server, config.cluster_lease};
  }
  return {override_arg, std::nullopt, config.cluster_lease};
}

std::string describe(const StateLocation& where) {
  if (!where.server) return where.file.string();
  return config::url_holds_password(where.server->url) ? "postgresql://(a URL with a password)" : where.server->url;
}

Result<std::unique_ptr<Store>> open_store(const StateLocation& where, OpenMode mode) {
  if (where.server) {
    if (config::url_holds_password(where.server->url))
      return Result<std::unique_ptr<Store>>::error("the state URL holds a password; give it as state.password "
                                                   "(${env:NAME} or ${file:PATH}) or in PGPASSWORD instead");
    if (mode == OpenMode::kScratch) return open_pg_scratch(*where.server);
    return open_pg_store(*where.server, mode, where.lease);
  }
  switch (mode) {
    case OpenMode::kDaemon: return Store::open(where.file);
    case OpenMode::kReader: return Store::open_readonly(where.file);
    case OpenMode::kClient: return Store::open_client(where.file);
    case OpenMode::kScratch: return Store::open_scratch_copy(where.file);
  }
  return Result<std::unique_ptr<Store>>::error("unknown open mode");
}

}  // namespace cronhost::store
