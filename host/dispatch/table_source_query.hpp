// A table source's query (config/table_source.hpp), run as the reader and
// `cronhost validate --connect` both run it. Stateless; safe from any thread.
#pragma once
#include <chrono>
#include <functional>

#include "api/db_value.hpp"
#include "config/host_config.hpp"
#include "config/table_source.hpp"

namespace cronhost::dispatch {

// The rows of `source.query` on its database, through the db API as a job allowed only that
// database would run it: one statement, the per-query caps, at most `time_limit` in all
// (connecting included), stopped early when `stop` says so. Failure: the db API's message
// ("db: app: ...", secrets redacted).
api::DbResult<api::DbRows> query_table_source(const config::TableSource& source, const config::HostConfig& host,
                                              std::chrono::milliseconds time_limit,
                                              std::function<bool()> stop = [] { return false; });

}  // namespace cronhost::dispatch
