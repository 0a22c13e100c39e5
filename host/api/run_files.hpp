// Files as a run uses them (files.* in Lua and the plugin vtable's files call): paths inside
// allow.files opened beneath the allowed folder (api/beneath), the dry-run rule (list, stat
// and read are real; write, remove, gzip and prune are captured and answer as the live run
// would, and stat and gzip see the files a dry run would have made), prune's keep/older_than
// rule and the messages. The one implementation; adapters only convert arguments and results.
//
// Failures: kMisuse for a path outside allow.files (the message names "(allow.files)"), a
// folder given to remove or gzip, and bad prune options; kFailed for a missing file or an I/O
// failure. Messages name the Lua function ("files.read: /srv/x: no such file").
// Belongs to the run's thread.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/call_result.hpp"
#include "api/effects.hpp"
#include "api/file_ops.hpp"
#include "config/job_spec.hpp"

namespace cronhost::api {

struct FileEntry {
  std::string name;
  std::filesystem::path path;
  FileInfo info;
};

struct FileStat {
  std::filesystem::path path;
  FileInfo info;
  bool dry_run = false;  // a file only this dry run would have made
};

struct GzipOutcome {
  std::filesystem::path path;
  uintmax_t bytes = 0;
  uintmax_t source_bytes = 0;
  bool dry_run = false;  // then bytes is an estimate: a dry run compresses nothing
};

// prune's options as given; check_prune says what is wrong with them.
struct PruneOptions {
  std::string pattern = "*";
  std::optional<double> older_than;  // seconds
  std::optional<double> keep;        // newest files kept whatever their age
};

class RunFiles {
 public:
  static constexpr double kDefaultMaxReadBytes = 16 << 20;

  // `stop_now` says the run must stop (deadline, cancel): a long gzip gives up then.
  RunFiles(const config::JobSpec& job, EffectLog& effects, const Redactor& redactor, std::function<bool()> stop_now)
      : job_(job), effects_(effects), redactor_(redactor), stop_now_(std::move(stop_now)) {}

  // The entries of a folder whose names match `pattern`, sorted by name; links that lead out
  // of the allowed folder (or nowhere) are left out.
  CallResult<std::vector<FileEntry>> list(const std::string& path, const std::string& pattern);
  CallResult<FileStat> stat(const std::string& path);
  // Removes the directory entry: a link (one that stays inside) is removed, not its target.
  CallResult<CallDone> remove(const std::string& path);
  // The bytes written; atomically replaced, folders made on the way.
  CallResult<size_t> write(const std::string& path, std::string_view content);
  // max_bytes as given (validated: 0 or more); the bytes go to `append` in chunks, so the
  // caller keeps them where its own memory cap applies. `append` returning false stops the
  // read with kFailed ("more than the caller can hold").
  static Status check_max_bytes(double max_bytes);
  CallResult<CallDone> read(const std::string& path, double max_bytes, const std::function<bool(std::string_view)>& append);
  // The .gz goes beside the path as given; with remove_source that entry is removed.
  CallResult<GzipOutcome> gzip(const std::string& path, bool remove_source);
  // Keeps the newest `keep` matching files whatever their age; of the others removes those
  // older than `older_than` (or all of them without it). Plain files only. The removed paths.
  static Status check_prune(const PruneOptions& options);
  CallResult<std::vector<std::string>> prune(const std::string& path, const PruneOptions& options);

 private:
  void capture(const std::string& summary, nlohmann::json detail);

  const config::JobSpec& job_;
  EffectLog& effects_;
  const Redactor& redactor_;
  std::function<bool()> stop_now_;
};

}  // namespace cronhost::api
