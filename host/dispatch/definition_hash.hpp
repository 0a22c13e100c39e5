// The hash hosts compare a job's definition by (dispatch/definition_watch.hpp): FNV-1a over a
// canonical JSON of what the job does (schedule, runner, params, limits, retries, catch-up,
// concurrency, allow list, trigger params, writeback), with the Lua script's and the plugin's
// contents in place of their paths, so two hosts whose jobs folders sit in different places
// agree, and two whose script texts differ do not (a module the script requires is not
// covered). Change detection between hosts one operator
// runs, not security: FNV-1a as in plugin/plugin_catalog.cpp. Secret values (${env:},
// ${file:}) are left out, as everywhere they could be printed, so a hash never reveals one.
// Not thread-safe: one watch thread uses it.
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "config/job_spec.hpp"

namespace cronhost::dispatch {

// What the hash covers, as JSON (for the hash and for tests that show what differs).
nlohmann::json definition_json(const config::JobSpec& job);

class DefinitionHasher {
 public:
  // 16 hex digits. A script or plugin that cannot be read hashes as "unreadable", so the job
  // still has a hash and the host that cannot read it differs from those that can.
  std::string hash(const config::JobSpec& job);

 private:
  struct Seen {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type modified;
    std::string hash;
  };
  // A file's contents hashed, cached by its size and modification time: a reload re-reads
  // only the files that changed, and a plugin shared by 1,000 jobs is read once.
  std::string file_hash(const std::filesystem::path& path);
  std::map<std::filesystem::path, Seen> files_;
};

// FNV-1a 64 of `data`, as 16 hex digits.
std::string fnv1a_hex(std::string_view data);

}  // namespace cronhost::dispatch
