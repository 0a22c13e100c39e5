#include "config/job_loader.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <thread>

#include "api/mail_address.hpp"
#include "api/permissions.hpp"
#include "config/job_file_cache.hpp"
#include "config/schema_check.hpp"
#include "config/yaml_document.hpp"
#include "schedule/cron_next.hpp"
#include "schedule/cron_parser.hpp"
#include "util/did_you_mean.hpp"
#include "util/http_header.hpp"
#include "util/duration.hpp"
#include "util/list_files.hpp"
#include "util/parallel_for.hpp"
#include "util/path_order.hpp"
#include "util/read_file.hpp"

namespace cronhost::config {

std::string_view to_string(Concurrency c) {
  switch (c) {
    case Concurrency::kForbid: return "forbid";
    case Concurrency::kAllow: return "allow";
    case Concurrency::kReplace: return "replace";
  }
  return "?";
}

std::string_view to_string(Isolation i) { return i == Isolation::kProcess ? "process" : "inline"; }

std::string_view to_string(CatchupPolicy p) {
  switch (p) {
    case CatchupPolicy::kSkip: return "skip";
    case CatchupPolicy::kLatest: return "latest";
    case CatchupPolicy::kAll: return "all";
  }
  return "?";
}

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// fs::path(file).stem() on the text: "jobs.d/backup.yaml" -> "backup", ".env" -> ".env".
std::string file_stem(std::string_view file) {
  const std::string_view name = file.substr(file.rfind('/') + 1);
  if (name == "." || name == "..") return std::string(name);
  const size_t dot = name.rfind('.');
  return std::string(dot == 0 || dot == std::string_view::npos ? name : name.substr(0, dot));
}

bool valid_job_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// Turns one document into a JobSpec. Each check reads a value only if the schema check did
// not already report it, so every mistake gets exactly one message.
class JobReader {
 public:
  JobReader(const YamlDocument& doc, const std::set<std::string>& failed, const fs::path& base_dir,
            const LoadOptions& options, FilePresence& files, Diagnostics& out)
      : doc_(doc), failed_(failed), base_dir_(base_dir), options_(options), files_(files), out_(out) {}

  std::optional<JobSpec> read(const std::string& default_name) {
    name_ = default_name;
    if (const json* v = get("/name")) name_ = v->get<std::string>();
    else if (!valid_job_name(default_name))
      error({1, 1}, "the file name gives the job name '" + default_name +
                        "', which is not a valid name (letters, digits, '.', '_', '-'); set name: explicitly");

    auto zone = read_zone();
    auto schedule_kind = read_schedule_kind(*zone);
    Millis jitter{0};
    if (auto d = duration_at("/schedule/jitter")) jitter = *d;

    JobSpec spec{.name = name_,
                 .file = doc_.file(),
                 .schedule = schedule::Schedule(schedule_kind.value_or(schedule::After{}), zone, jitter)};
    if (const json* v = get("/description")) spec.description = v->get<std::string>();
    spec.lua_script = read_run_file("/run/lua", "run.lua: script file ");
    spec.plugin = read_run_file("/run/plugin", "run.plugin: plugin file ");
    // Plugins are isolated unless the job trusts them; Lua has its own sandbox.
    spec.isolation = spec.plugin.empty() ? Isolation::kInline : Isolation::kProcess;
    if (const json* v = get("/run/isolation")) spec.isolation = *v == "process" ? Isolation::kProcess : Isolation::kInline;
    if (const json* v = get("/run/memory_mb")) spec.memory_bytes = v->get<uint64_t>() << 20;
    spec.http = read_http_runner();
    if (options_.from_api && (get("/run/lua") || get("/run/plugin")))
      error(doc_.key_position(get("/run/lua") ? "/run/lua" : "/run/plugin"),
            "run: a job registered over the API runs through run.http; Lua and plugin jobs come from job files");
    if (const json* v = get("/params")) {
      spec.params = *v;
      collect_secrets(*v, "/params", spec.secret_params);
    }
    spec.secret_values = doc_.secret_parts();
    if (const json* v = get("/trigger_params")) {
      auto rules = TriggerParams::parse(*v);
      if (rules) spec.trigger_params = std::move(rules).value();
      else error(doc_.value_position("/trigger_params"), rules.message());
    }
    if (auto d = duration_at("/timeout")) {
      if (d->count() <= 0) error(doc_.value_position("/timeout"), "timeout: must be longer than 0");
      spec.timeout = *d;
    }
    if (const json* v = get("/retries/attempts")) spec.retries.attempts = v->get<int>();
    if (auto d = duration_at("/retries/backoff")) spec.retries.backoff = *d;
    if (auto d = duration_at("/retries/max_backoff")) spec.retries.max_backoff = *d;
    if (spec.retries.max_backoff < spec.retries.backoff)
      error(doc_.value_position(get("/retries/max_backoff") ? "/retries/max_backoff" : "/retries/backoff"),
            "retries: max_backoff (" + format_duration(spec.retries.max_backoff) + ") is shorter than backoff (" +
                format_duration(spec.retries.backoff) + ")");
    if (const json* v = get("/concurrency")) {
      const std::string c = v->get<std::string>();
      spec.concurrency = c == "allow" ? Concurrency::kAllow : c == "replace" ? Concurrency::kReplace : Concurrency::kForbid;
    }
    if (const json* v = get("/max_instances")) {
      spec.max_instances = v->get<int>();
      if (spec.concurrency != Concurrency::kAllow)
        warning(doc_.key_position("/max_instances"), "max_instances is used only with concurrency: allow");
    }
    if (const json* v = get("/catchup/policy")) {
      const std::string p = v->get<std::string>();
      spec.catchup.policy = p == "skip" ? CatchupPolicy::kSkip : p == "all" ? CatchupPolicy::kAll : CatchupPolicy::kLatest;
    }
    if (auto d = duration_at("/catchup/window")) spec.catchup.window = *d;
    if (const json* v = get("/catchup/max_runs")) spec.catchup.max_runs = v->get<int>();
    if (const json* v = get("/enabled")) spec.enabled = v->get<bool>();
    spec.allow = read_allow();
    if (auto block = notify::read_notify_block(doc_, "/notify", out_); !block.empty())
      spec.notify_block = std::move(block);
    check_notify_allowed(spec);
    const auto* on = schedule_kind ? std::get_if<schedule::OnEvent>(&*schedule_kind) : nullptr;
    if (on && on->name.rfind("approval.", 0) == 0 && spec.allow.approvals.empty())
      warning(doc_.text_position("/schedule/on"),
              "schedule.on: " + on->name + " fires only for approvals job " + spec.name +
                  " asked for itself; name the jobs that ask in allow.approvals (e.g. [version-check])");

    if (!schedule_kind) return std::nullopt;
    return spec;
  }

 private:
  void error(Position at, std::string message) { out_.push_back(doc_.error_at(at, std::move(message))); }
  void warning(Position at, std::string message) {
    out_.push_back({doc_.file(), at, std::move(message), Diagnostic::Severity::kWarning});
  }

  // The value at `pointer` if present and not already reported by the schema check.
  const json* get(std::string_view pointer) const {
    for (std::string_view p = pointer; !failed_.empty();) {
      if (failed_.count(std::string(p))) return nullptr;
      if (p.empty()) break;
      p = p.substr(0, p.rfind('/'));
    }
    if (!doc_.root().is_object()) return nullptr;
    const json* v = value_at(doc_.root(), pointer);
    return v && !v->is_null() ? v : nullptr;
  }

  std::optional<Millis> duration_at(std::string_view pointer) {
    const json* v = get(pointer);
    if (!v) return std::nullopt;
    auto d = parse_duration(v->get<std::string>());
    if (!d) {
      error(doc_.text_position(pointer), pointer_to_key(pointer) + ": " + d.message());
      return std::nullopt;
    }
    return *d;
  }

  std::shared_ptr<const schedule::Zone> read_zone() {
    const json* v = get("/schedule/timezone");
    if (!v) return options_.default_zone;
    auto zone = schedule::Zone::load(v->get<std::string>());
    if (!zone) {
      error(doc_.text_position("/schedule/timezone"), "schedule.timezone: " + zone.message());
      return options_.default_zone;
    }
    return zone.value();
  }

  std::optional<Instant> read_time(const std::string& pointer, const schedule::Zone& zone) {
    const json* v = get(pointer);
    if (!v) return std::nullopt;
    auto written = parse_rfc3339(v->get<std::string>());
    if (!written) {
      error(doc_.text_position(pointer), pointer_to_key(pointer) + ": " + written.message());
      return std::nullopt;
    }
    if (written->offset_seconds) return written->instant();
    const schedule::Civil c{written->year, written->month, written->day, written->hour, written->minute, written->second};
    return Instant(std::chrono::seconds(schedule::resolve_local(c, zone)));
  }

  std::optional<schedule::Schedule::Kind> read_schedule_kind(const schedule::Zone& zone) {
    if (get("/schedule/anchor") && !get("/schedule/every"))
      error(doc_.key_position("/schedule/anchor"), "schedule.anchor: only used with schedule.every");
    if (get("/schedule/kind") && !get("/schedule/on"))
      error(doc_.key_position("/schedule/kind"), "schedule.kind: only used with schedule.on");
    if (const json* v = get("/schedule/cron")) return read_cron(*v, zone);
    if (get("/schedule/every")) {
      auto d = duration_at("/schedule/every");
      if (!d) return std::nullopt;
      if (d->count() < 1000 || d->count() % 1000 != 0) {
        error(doc_.text_position("/schedule/every"), "schedule.every: must be whole seconds, at least 1s");
        return std::nullopt;
      }
      Instant anchor{};
      if (get("/schedule/anchor")) {
        auto t = read_time("/schedule/anchor", zone);
        if (!t) return std::nullopt;
        anchor = *t;
      }
      return schedule::Interval{std::chrono::duration_cast<std::chrono::seconds>(*d), anchor};
    }
    if (get("/schedule/at")) {
      auto t = read_time("/schedule/at", zone);
      if (!t) return std::nullopt;
      if (*t <= options_.now)
        warning(doc_.text_position("/schedule/at"), "schedule.at is in the past: this job will not fire");
      return schedule::OneShot{*t};
    }
    if (const json* v = get("/schedule/on")) {
      const json* kind = get("/schedule/kind");
      return schedule::OnEvent{v->get<std::string>(), kind ? kind->get<std::string>() : ""};
    }
    if (const json* v = get("/schedule/after/job")) {
      const std::string status = get("/schedule/after/status") ? get("/schedule/after/status")->get<std::string>()
                                                                 : "succeeded";
      if (v->get<std::string>() == name_) {
        error(doc_.text_position("/schedule/after/job"), "schedule.after.job: a job cannot follow itself");
        return std::nullopt;
      }
      return schedule::After{v->get<std::string>(), status};
    }
    return std::nullopt;  // the schema check reported what is missing
  }

  std::optional<schedule::Schedule::Kind> read_cron(const json& value, const schedule::Zone& zone) {
    schedule::CronTimes times;
    std::vector<std::string> pointers;
    if (value.is_string()) pointers.push_back("/schedule/cron");
    else
      for (size_t i = 0; i < value.size(); ++i) pointers.push_back("/schedule/cron/" + std::to_string(i));
    bool ok = true;
    for (const auto& pointer : pointers) {
      const json* item = get(pointer);
      if (!item) {
        ok = false;  // the schema check reported it
        continue;
      }
      const std::string text = item->get<std::string>();
      schedule::CronParseError parse_error;
      auto expr = schedule::parse_cron(text, name_, &parse_error);
      const Position at = doc_.text_position(pointer);
      if (!expr) {
        error(doc_.text_position(pointer, parse_error.offset), "schedule.cron: " + parse_error.message);
        ok = false;
        continue;
      }
      if (!schedule::next_fire(*expr, zone, options_.now.time_since_epoch().count())) {
        error(at, "schedule.cron: \"" + text.substr(0, 80) + "\" never fires (no date matches its day and month fields)");
        ok = false;
        continue;
      }
      times.texts.push_back(text);
      times.exprs.push_back(*expr);
    }
    if (!ok) return std::nullopt;
    return times;
  }

  // A job's notifications reach only what its allow: lets its code reach: allow.mail for the
  // recipients, allow.http for the webhooks (the host's default block is the operator's).
  void check_notify_allowed(const JobSpec& spec) {
    const notify::NotifyBlock& block = spec.notify();
    const json* mail = get("/notify/mail");
    for (size_t i = 0; i < block.mail.size(); ++i) {
      const std::string pointer = mail && mail->is_array() ? "/notify/mail/" + std::to_string(i) : "/notify/mail";
      const std::string& address = block.mail[i];
      if (!api::mail_address(address))
        error(doc_.text_position(pointer), pointer_to_key(pointer) + ": '" + address + "' is not a mail address");
      else if (auto allowed = api::check_mail(spec, {address}); !allowed)
        error(doc_.text_position(pointer), pointer_to_key(pointer) + ": " + allowed.message());
    }
    const json* hooks = get("/notify/webhook");
    for (size_t i = 0; i < block.webhooks.size(); ++i) {
      const auto& hook = block.webhooks[i];
      const std::string pointer =
          (hooks && hooks->is_array() ? "/notify/webhook/" + std::to_string(i) : std::string("/notify/webhook")) + "/url";
      const bool secret = doc_.is_secret(pointer);
      if (auto allowed = api::check_http(spec, hook.url); !allowed)
        error(doc_.text_position(pointer),
              pointer_to_key(pointer) + ": " +
                  (secret ? "the URL (from a secret) is not allowed for job " + spec.name + " (allow.http)"
                          : allowed.message()));
    }
    const json* jobs = get("/notify/job");
    for (size_t i = 0; i < block.jobs.size(); ++i)
      if (block.jobs[i] == spec.name)
        error(doc_.text_position(jobs && jobs->is_array() ? "/notify/job/" + std::to_string(i) : "/notify/job"),
              "notify.job: a job cannot be its own notification (it would fire itself on its own failure)");
  }

  // run.http; nothing when absent or when the schema already reported its url (values the
  // schema refused are skipped: their errors are reported, the job is not built).
  std::optional<HttpRunner> read_http_runner() {
    const json* url = get("/run/http/url");
    if (!get("/run/http") || !url || !url->is_string()) return std::nullopt;
    HttpRunner http;
    http.url = url->get<std::string>();
    if (const json* v = get("/run/http/method"); v && v->is_string()) http.method = v->get<std::string>();
    if (const json* headers = get("/run/http/headers"); headers && headers->is_object())
      for (const auto& [name, value] : headers->items()) {
        if (!value.is_string()) continue;
        // Sent verbatim: a CR or LF would add headers or a second request; Host and
        // hop-by-hop headers belong to the HTTP client.
        const std::string pointer = pointer_append("/run/http/headers", name);
        if (auto ok = check_request_header(name, value.get<std::string>()); !ok) {
          error(doc_.value_position(pointer), "run.http.headers." + escape_controls(name) + ": " + ok.message());
          continue;
        }
        http.headers.emplace_back(name, value.get<std::string>());
        if (doc_.is_secret(pointer_append("/run/http/headers", name))) http.secret_headers.insert(name);
      }
    if (auto d = duration_at("/run/http/timeout")) http.timeout = *d;
    return http;
  }

  // A file the run names (a script or a plugin), resolved like every path in a job file.

  fs::path read_run_file(const char* pointer, const std::string& what) {
    const json* v = get(pointer);
    if (!v) return {};
    fs::path path = v->get<std::string>();
    if (path.is_relative()) path = base_dir_ / path;
    path = path.lexically_normal();
    if (!files_.is_regular_file(path))
      error(doc_.text_position(pointer), what + v->get<std::string>() + " not found (looked for " +
                                                path.string() + ")");
    return path;
  }

  Allowlist read_allow() {
    Allowlist allow;
    const auto strings = [&](const char* pointer) {
      std::vector<std::string> out;
      const json* v = get(pointer);
      for (size_t i = 0; v && v->is_array() && i < v->size(); ++i) {
        const std::string item_pointer = std::string(pointer) + "/" + std::to_string(i);
        const json* item = get(item_pointer);
        if (!item || !item->is_string()) continue;  // the schema check reported it
        // "${var:BACKUP_DIR}/" with BACKUP_DIR unset or empty would allow "/": refuse it.
        if (auto name = doc_.empty_variable(item_pointer))
          error(doc_.value_position(item_pointer),
                pointer_to_key(item_pointer) + ": variable " + *name + " is unset or empty (got '" +
                    item->get<std::string>() + "'); an allowlist entry needs it set, e.g. " + *name +
                    "=... in the host's environment");
        out.push_back(item->get<std::string>());
      }
      return out;
    };
    allow.http = strings("/allow/http");
    for (size_t i = 0; i < allow.http.size(); ++i) {
      const std::string& pattern = allow.http[i];
      if (doc_.reported().count("/allow/http/" + std::to_string(i))) continue;  // its ${...} failed: said once
      const size_t host = pattern.find("://") + 3;
      if (host >= pattern.size() || pattern[host] == '/' || pattern[host] == ':')
        error(doc_.text_position("/allow/http/" + std::to_string(i)),
              "allow.http: '" + pattern + "' names no host (expected e.g. https://api.example.com/v1/*)");
    }
    if (const json* v = get("/allow/mail")) {
      if (v->is_boolean()) allow.mail_anyone = v->get<bool>();
      else allow.mail = strings("/allow/mail");
    }
    allow.db = strings("/allow/db");
    for (const auto& folder : strings("/allow/files")) {
      fs::path path = folder;
      if (path.is_relative()) path = base_dir_ / path;
      allow.files.push_back(path.lexically_normal());
    }
    allow.registry = strings("/allow/registry");
    allow.approvals = strings("/allow/approvals");
    allow.storage = strings("/allow/storage");
    return allow;
  }

  void collect_secrets(const json& value, const std::string& pointer, std::set<std::string>& out) const {
    if (doc_.is_secret(pointer)) out.insert(pointer.substr(std::string("/params").size()));
    if (value.is_object())
      for (const auto& [key, child] : value.items()) collect_secrets(child, pointer_append(pointer, key), out);
    if (value.is_array())
      for (size_t i = 0; i < value.size(); ++i) collect_secrets(value[i], pointer + "/" + std::to_string(i), out);
  }

  const YamlDocument& doc_;
  const std::set<std::string>& failed_;
  const fs::path& base_dir_;
  const LoadOptions& options_;
  FilePresence& files_;
  Diagnostics& out_;
  std::string name_;
};

// Fewer files than this per thread are not worth a thread.
constexpr size_t kFilesPerThread = 256;

// The path as text: a job file's path made into an fs::path splits itself into elements.
std::optional<std::string> read_text(const std::string& path, struct stat& st, Diagnostics& out) {
  std::string text, error;
  if (read_file(path.c_str(), text, st, error, kMaxFileBytes)) return text;
  const bool too_large = static_cast<uint64_t>(st.st_size) > kMaxFileBytes;  // st is filled before the refusal
  std::string message = too_large ? "file is too large (" + error + ")" : "cannot read the file: " + error;
  std::error_code ec;
  if (const auto target = fs::read_symlink(path, ec); !ec) message += " (it links to " + target.string() + ")";
  out.push_back({path, {1, 1}, std::move(message)});
  return std::nullopt;
}

bool has_job_extension(std::string_view name) { return name.ends_with(".yaml") || name.ends_with(".yml"); }

struct JobFile {
  std::string path;
  size_t base = 0;  // the folder its relative paths resolve against, in JobFiles::bases
};

struct JobFiles {
  std::vector<JobFile> files;
  std::vector<fs::path> bases;
};

// The job files named by `paths`, each with the folder its relative paths resolve against.
// Plain strings, not fs::path: a path splits itself into elements as it is made and compared.
JobFiles find_job_files(const std::vector<fs::path>& paths, Diagnostics& out, bool* complete) {
  JobFiles found_files;
  for (const auto& root : paths) {
    std::error_code ec;
    const fs::path absolute = fs::absolute(root, ec).lexically_normal();
    if (fs::is_directory(root, ec)) {
      found_files.bases.push_back((absolute.has_filename() ? absolute : absolute.parent_path()).parent_path());
      // A folder that cannot be listed (permissions, an I/O error) ends the walk with an error:
      // skipping it would look like its jobs were removed. Hidden entries are skipped, folders
      // with all they hold: a Kubernetes ConfigMap volume keeps each file twice, in
      // ..2026_12_04_.../ and as a link through ..data/, and every job would otherwise be a
      // duplicate of itself.
      FileListing listing = list_files(root.string(), has_job_extension);
      if (!listing.error.empty()) {
        out.push_back({root.string(), {1, 1}, "cannot read the folder (at " + listing.error_at + "): " + listing.error});
        *complete = false;
      }
      // Every path starts with the root: compared from there on, 100,000 paths sort in half
      // the time (29-31 ms against 55-68 ms).
      const size_t common = root.native().size();
      std::sort(listing.files.begin(), listing.files.end(), [common](std::string_view a, std::string_view b) {
        return path_order_less(a.substr(common), b.substr(common));
      });
      found_files.files.reserve(found_files.files.size() + listing.files.size());
      for (auto& f : listing.files) found_files.files.push_back({std::move(f), found_files.bases.size() - 1});
    } else if (fs::exists(root, ec)) {
      found_files.bases.push_back(absolute.parent_path().parent_path());
      found_files.files.push_back({root.string(), found_files.bases.size() - 1});
    } else {
      out.push_back({root.string(), {1, 1}, ec ? "cannot read: " + ec.message() : "no such file or folder"});
      *complete = false;
    }
  }
  return found_files;
}

// Secrets may sit where nothing prints them: params, and the headers of an HTTP runner.
bool secrets_in_params_and_headers(std::string_view pointer) {
  if (pointer.rfind("/job/", 0) == 0) pointer.remove_prefix(4);  // a table source's job template
  return pointer.rfind("/params/", 0) == 0 || pointer.rfind("/run/http/headers/", 0) == 0 ||
         pointer.rfind("/notify/webhook", 0) == 0;
}
bool no_secrets(std::string_view) { return false; }

// What the cross-file rules need of one file, valid or not.
struct FileFacts {
  std::string file;
  std::string name;
  Position name_at;
  std::string after_job;  // empty: not an after: job
  Position after_at;
};

FileFacts facts_of(const YamlDocument& doc) {
  const auto& root = doc.root();
  FileFacts facts{.file = doc.file(), .name = file_stem(doc.file()), .name_at = {1, 1}};
  if (!root.is_object()) return facts;
  if (root.contains("name") && root["name"].is_string() && !doc.reported().count("/name")) {
    facts.name = root["name"].get<std::string>();
    facts.name_at = doc.text_position("/name");
  }
  const json* after = value_at(root, "/schedule/after/job");
  if (after && after->is_string() && !doc.reported().count("/schedule/after/job")) {
    facts.after_job = after->get<std::string>();
    facts.after_at = doc.text_position("/schedule/after/job");
  }
  return facts;
}

// Names used twice, after: targets that do not exist, and after: chains that loop.
void check_across_files(const std::vector<FileFacts>& files, Diagnostics& out) {
  std::map<std::string, const FileFacts*> by_name;
  std::vector<std::string> names;
  for (const auto& f : files) {
    if (auto [it, fresh] = by_name.emplace(f.name, &f); !fresh)
      out.push_back({f.file, f.name_at, "duplicate job name '" + f.name + "' (also defined in " + it->second->file + ")"});
    else
      names.push_back(f.name);
  }
  for (const auto& f : files) {
    if (f.after_job.empty() || f.after_job == f.name) continue;
    if (!by_name.count(f.after_job)) {
      out.push_back({f.file, f.after_at, "schedule.after.job: no job named '" + f.after_job + "'" +
                                             did_you_mean_suffix(f.after_job, names)});
      continue;
    }
    std::set<std::string> seen{f.name};
    for (const FileFacts* j = by_name[f.after_job]; j && !j->after_job.empty();) {
      seen.insert(j->name);
      if (seen.count(j->after_job)) {
        out.push_back({f.file, f.after_at, "schedule.after: the chain " + f.name + " -> " + f.after_job +
                                               " -> ... comes back to " + j->after_job + " and never fires"});
        break;
      }
      j = by_name.count(j->after_job) ? by_name[j->after_job] : nullptr;
    }
  }
}

// The facts of a file the cache kept: a clean job, so its name and after: are the job's.
FileFacts facts_of(const JobFileCache::Entry& kept) {
  const auto* after = std::get_if<schedule::After>(&kept.job->schedule.kind());
  return {.file = kept.job->file, .name = kept.job->name, .name_at = kept.name_at,
          .after_job = after ? after->job : std::string(), .after_at = kept.after_at};
}

// A job that may be taken again unread while its file stays the same (job_file_cache.hpp):
// no ${...} and no one-shot time.
bool depends_on_file_alone(bool substitutes, const JobSpec& job) {
  return !substitutes && !std::holds_alternative<schedule::OneShot>(job.schedule.kind());
}

// A reused job whose script or plugin is gone is read again, so that the loader reports it.
// Each distinct path is looked at once: thousands of jobs may share one script.
void forget_jobs_missing_their_code(std::vector<const JobFileCache::Entry*>& reused, FilePresence& files) {
  const auto present = [&](const fs::path& path) { return path.empty() || files.is_regular_file(path); };
  for (auto& entry : reused)
    if (entry && (!present(entry->job->lua_script) || !present(entry->job->plugin.native()))) entry = nullptr;
}

// What else a file's job depends on: the folders relative paths resolve against, the
// default time zone and whether it came over the API.
std::string cache_key(const std::vector<fs::path>& bases, const LoadOptions& options) {
  std::string key = options.default_zone ? options.default_zone->name() : "";
  key += options.from_api ? "\napi" : "\nfile";
  for (const auto& base : bases) key += "\n" + base.string();
  return key;
}

// One job file: a job, or (with `source`, when the caller takes one) a table source.
std::optional<JobSpec> load_one(const std::string& file, std::string_view text, const fs::path& base_dir,
                                const LoadOptions& options, Diagnostics& diagnostics, FileFacts* facts,
                                FilePresence* files = nullptr, std::optional<TableSource>* source = nullptr,
                                bool* substitutes = nullptr) {
  const size_t errors_before = error_count(diagnostics);
  auto doc = YamlDocument::parse(file, text, base_dir, diagnostics,
                                 options.from_api ? no_secrets : secrets_in_params_and_headers);
  if (!doc) return std::nullopt;
  if (substitutes) *substitutes = doc->substitutes();
  if (source && is_table_source(*doc)) {
    *source = read_table_source(*doc, base_dir, options, diagnostics);
    return std::nullopt;
  }
  if (facts) *facts = facts_of(*doc);
  auto job = load_job_document(*doc, base_dir, options, diagnostics, files);
  if (error_count(diagnostics) != errors_before) return std::nullopt;
  return job;
}

}  // namespace

std::optional<JobSpec> load_job_document(const YamlDocument& doc, const fs::path& base_dir, const LoadOptions& options,
                                         Diagnostics& diagnostics, FilePresence* files) {
  const size_t errors_before = error_count(diagnostics);
  const std::set<std::string> failed = SchemaCheck::job().check(doc, diagnostics);
  if (!doc.root().is_object()) return std::nullopt;
  FilePresence own_files;
  JobReader reader(doc, failed, base_dir, options, files ? *files : own_files, diagnostics);
  std::optional<JobSpec> job;
  try {
    job = reader.read(file_stem(doc.file()));
  } catch (const std::exception& e) {
    // A shape the schema let through that the reader did not expect: that file fails, the
    // host and the other jobs carry on (tests/unit/config/wrong_types_test.cpp hunts these).
    diagnostics.push_back(doc.error_at({1, 1}, std::string("cannot read this job (please report it): ") + e.what()));
  }
  if (error_count(diagnostics) != errors_before) return std::nullopt;
  return job;
}

std::optional<JobSpec> load_job_text(const std::string& file, std::string_view text, const fs::path& base_dir,
                                     const LoadOptions& options, Diagnostics& diagnostics) {
  return load_one(file, text, base_dir, options, diagnostics, nullptr);
}

LoadResult load_jobs(const std::vector<fs::path>& paths, const LoadOptions& options, JobFileCache* cache) {
  LoadResult result;
  const JobFiles found = find_job_files(paths, result.diagnostics, &result.complete);
  const std::vector<JobFile>& files = found.files;
  result.files = files.size();
  // Files are read on every core and merged in their order: one core read 100,000 job files
  // in 7 s, mostly YAML parsing and schema checks, each file on its own.
  // Small, as 100,000 are made before any file is read: the job and the rare table source
  // are made on the reading thread (holding both in place took 0.65 s to zero-fill and
  // another 0.6 s to move on the merging thread).
  struct FileOutcome {
    Diagnostics diagnostics;
    FileFacts facts;
    std::unique_ptr<TableSource> source;
    std::shared_ptr<JobSpec> job;
    std::optional<FileStamp> keep;  // the cache may keep this file's job
  };
  const size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()),
                                          files.size() / kFilesPerThread + 1);
  // First the files unchanged since the cache's load (a stat each), then the others are read.
  const std::string options_key = cache ? cache_key(found.bases, options) : std::string();
  std::vector<const JobFileCache::Entry*> reused(files.size());
  if (cache)
    parallel_for(files.size(), threads, [&](size_t i) { reused[i] = cache->find(files[i].path, options_key); });
  FilePresence run_files;  // the scripts and plugins the jobs name, each looked at once
  if (cache) forget_jobs_missing_their_code(reused, run_files);
  std::vector<size_t> to_read;
  for (size_t i = 0; i < files.size(); ++i)
    if (!reused[i]) to_read.push_back(i);
  const auto read_at = std::chrono::system_clock::now();
  std::vector<FileOutcome> outcomes(to_read.size());
  parallel_for(to_read.size(), threads, [&](size_t k) {
    FileOutcome& out = outcomes[k];
    const JobFile& file = files[to_read[k]];
    try {
      struct stat st {};
      auto text = read_text(file.path, st, out.diagnostics);
      if (!text) return;
      bool substitutes = true;
      std::optional<TableSource> source;
      auto job = load_one(file.path, *text, found.bases[file.base], options, out.diagnostics, &out.facts,
                          &run_files, &source, &substitutes);
      if (source) out.source = std::make_unique<TableSource>(std::move(*source));
      if (!job) return;
      out.job = std::make_shared<JobSpec>(std::move(*job));
      if (cache && out.diagnostics.empty() && depends_on_file_alone(substitutes, *out.job) &&
          cache->may_keep(file.path, st, read_at))
        out.keep = stamp_of(st);
    } catch (const std::exception& e) {  // out of memory: that file fails, the others load
      out.diagnostics.push_back({file.path, {1, 1}, std::string("cannot read this job: ") + e.what()});
    }
  });
  std::vector<FileFacts> facts;
  std::vector<JobFileCache::Entry> kept;
  facts.reserve(files.size());
  if (cache) {
    kept.reserve(files.size());
    result.shared_jobs.reserve(files.size());
  } else {
    result.jobs.reserve(files.size());
  }
  for (size_t i = 0, k = 0; i < files.size(); ++i) {  // in file order
    if (reused[i]) {
      kept.push_back(*reused[i]);
      result.shared_jobs.push_back(reused[i]->job);
      facts.push_back(facts_of(*reused[i]));
      continue;
    }
    FileOutcome& out = outcomes[k++];
    std::move(out.diagnostics.begin(), out.diagnostics.end(), std::back_inserter(result.diagnostics));
    if (out.source) result.sources.push_back(std::move(*out.source));
    if (out.job && out.keep) {
      kept.push_back({*out.keep, out.facts.name_at, out.facts.after_at, out.job});
      result.shared_jobs.push_back(std::move(out.job));
    } else if (out.job) {
      result.jobs.push_back(std::move(*out.job));
    }
    if (!out.facts.file.empty() && !out.source) facts.push_back(std::move(out.facts));
  }
  outcomes.clear();
  reused.clear();  // points into the entries replace() drops
  if (cache) cache->replace(std::move(kept), options_key);
  const size_t before = result.diagnostics.size();
  check_across_files(facts, result.diagnostics);
  for (size_t i = before; i < result.diagnostics.size(); ++i) {
    const std::string& file = result.diagnostics[i].file;
    std::erase_if(result.jobs, [&](const JobSpec& j) { return j.file == file; });
    std::erase_if(result.shared_jobs, [&](const auto& j) { return j->file == file; });
  }
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.file != b.file) return a.file < b.file;
    if (a.position.line != b.position.line) return a.position.line < b.position.line;
    return a.position.column < b.position.column;
  });
  std::sort(result.jobs.begin(), result.jobs.end(), [](const JobSpec& a, const JobSpec& b) { return a.name < b.name; });
  return result;
}

}  // namespace cronhost::config
