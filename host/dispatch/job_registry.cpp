#include "dispatch/job_registry.hpp"

#include <stdexcept>

#include "api/permissions.hpp"
#include "schedule/cron_parser.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace cronhost::dispatch {
namespace {

std::string diagnostics_text(const config::Diagnostics& diagnostics) {
  std::string text;
  for (const auto& d : diagnostics)
    if (d.is_error()) text += (text.empty() ? "" : "\n") + d.format();
  return text;
}

}  // namespace

Result<schedule::Schedule> schedule_from_json(const nlohmann::json& value, const config::JobSpec& job) {
  using R = Result<schedule::Schedule>;
  if (!value.is_object() || !value.contains("cron")) return R::error("the body must be {\"cron\": ..., \"timezone\": ...}");
  for (const auto& [key, v] : value.items())
    if (key != "cron" && key != "timezone") return R::error("unknown key \"" + key + "\" (expected cron and timezone)");
  std::vector<std::string> texts;
  if (value["cron"].is_string()) texts.push_back(value["cron"].get<std::string>());
  else if (value["cron"].is_array())
    for (const auto& item : value["cron"]) {
      if (!item.is_string()) return R::error("cron: every item must be a cron expression (a string)");
      texts.push_back(item.get<std::string>());
    }
  if (texts.empty()) return R::error("cron: expected a cron expression or a list of them");
  schedule::CronTimes cron;
  for (const auto& text : texts) {
    auto expr = schedule::parse_cron(text, job.name);
    if (!expr) return R::error("cron \"" + text + "\": " + expr.message());
    cron.texts.push_back(text);
    cron.exprs.push_back(std::move(expr.value()));
  }
  std::shared_ptr<const schedule::Zone> zone;
  if (value.contains("timezone") && !value["timezone"].is_null()) {
    if (!value["timezone"].is_string()) return R::error("timezone: expected a time zone name such as Europe/Berlin");
    auto loaded = schedule::Zone::load(value["timezone"].get<std::string>());
    if (!loaded) return R::error("timezone: " + loaded.message());
    zone = loaded.value();
  } else {
    zone = job.schedule.zone_ptr();
  }
  return schedule::Schedule(std::move(cron), std::move(zone), job.schedule.jitter());
}

JobRegistry::JobRegistry(store::AdminStore& admin, Scheduler& scheduler, std::vector<std::string> registration_urls)
    : admin_(admin), scheduler_(scheduler), registration_urls_(std::move(registration_urls)) {}

void JobRegistry::start(const std::vector<std::shared_ptr<const config::JobSpec>>& file_jobs,
                        const config::LoadOptions& options) {
  std::vector<std::shared_ptr<const config::JobSpec>> all;
  {
    std::lock_guard lock(mutex_);
    load_options_ = options;
    for (const auto& spec : file_jobs) files_[spec->name] = spec;
    // Starting without them would leave the services' jobs unscheduled until a restart (on a
    // shared store, until the catalog next changes), so a failed read fails the start.
    auto registered = admin_.registered_jobs();
    if (!registered) throw std::runtime_error(registered.message());
    for (const auto& job : registered.value()) {
      config::Diagnostics diagnostics;
      auto loaded = load_registered(job.definition_json, diagnostics);
      if (!loaded)
        log_event(spdlog::level::err, "a registered job no longer loads; leaving it out",
                  {{"job", job.name}, {"problem", diagnostics_text(diagnostics)}});
      else if (files_.count(job.name))
        log_event(spdlog::level::warn, "a job file defines a registered job's name; the file wins", {{"job", job.name}});
      else
        registered_[job.name] = std::move(*loaded);
    }
    // Only the overridden jobs' states: all 100,000 read back took 0.2 s. Starting without them
    // would run paused jobs, so a failed read fails the start.
    auto overridden = admin_.job_overrides();
    if (!overridden) throw std::runtime_error(overridden.message());
    overrides_ = overrides_of(*overridden);
    all = all_effective_locked();
  }
  scheduler_.start(all);
}

void JobRegistry::reload(const std::vector<std::shared_ptr<const config::JobSpec>>& file_jobs,
                         const config::LoadOptions& options) {
  std::lock_guard lock(mutex_);
  load_options_ = options;
  files_.clear();
  for (const auto& spec : file_jobs) files_[spec->name] = spec;
  scheduler_.reload(all_effective_locked());
}

std::map<std::string, JobRegistry::Overrides> JobRegistry::overrides_of(const std::vector<store::JobState>& states) {
  std::map<std::string, Overrides> overrides;
  for (const auto& state : states) {
    Overrides o;
    o.enabled = state.enabled_override;
    if (!state.schedule_override.empty()) o.schedule = nlohmann::json::parse(state.schedule_override, nullptr, false);
    if (o.schedule.is_discarded()) o.schedule = nullptr;
    if (o.enabled || !o.schedule.is_null()) overrides[state.job] = std::move(o);
  }
  return overrides;
}

Status JobRegistry::refresh() {
  // Read before taking the lock: the API's threads wait on it. A change made here meanwhile
  // raises the version again, so the next refresh reads it.
  uint64_t writes_before = 0;
  {
    std::lock_guard lock(mutex_);
    writes_before = local_writes_;
  }
  auto registered = admin_.registered_jobs();
  if (!registered) return Status::error(registered.message());
  auto states = admin_.job_overrides();
  if (!states) return Status::error(states.message());
  std::map<std::string, Overrides> overrides = overrides_of(states.value());
  std::lock_guard lock(mutex_);
  // A change made through this host's API after the reads above would be undone by them; it
  // raised the version, so the next refresh reads it with the rest.
  if (local_writes_ != writes_before) return Status::ok();
  std::set<std::string> changed;
  std::set<std::string> saved;
  for (const auto& job : registered.value()) {
    saved.insert(job.name);
    const auto posted = nlohmann::json::parse(job.definition_json, nullptr, false);
    const auto existing = registered_.find(job.name);
    if (existing != registered_.end() && *existing->second.posted == posted) continue;
    if (files_.count(job.name)) continue;  // the file wins, as at start
    config::Diagnostics diagnostics;
    auto loaded = load_registered(job.definition_json, diagnostics);
    if (!loaded) {  // another host's registration.urls allow what ours do not, say
      if (refused_[job.name] != job.definition_json)
        log_event(spdlog::level::err, "a job registered on another host does not load here; leaving it out",
                  {{"job", job.name}, {"problem", diagnostics_text(diagnostics)}});
      refused_[job.name] = job.definition_json;
      continue;
    }
    refused_.erase(job.name);
    registered_[job.name] = std::move(*loaded);
    changed.insert(job.name);
  }
  for (auto it = registered_.begin(); it != registered_.end();) {
    if (saved.count(it->first)) {
      ++it;
      continue;
    }
    changed.insert(it->first);
    it = registered_.erase(it);
  }
  for (const auto& [name, o] : overrides)
    if (auto it = overrides_.find(name); it == overrides_.end() || !(it->second == o)) changed.insert(name);
  for (const auto& [name, o] : overrides_)
    if (!overrides.count(name)) changed.insert(name);
  overrides_ = std::move(overrides);
  for (const auto& name : changed) {
    // A job unknown here (another host's job file) has overrides to keep, nothing to apply.
    if (!defined_locked(name) && !views_.count(name)) continue;
    log_event(spdlog::level::info, "job changed on another host", {{"job", name}});
    apply_locked(name);
  }
  return Status::ok();
}

std::shared_ptr<const config::JobSpec> JobRegistry::defined_locked(const std::string& name) const {
  if (auto it = files_.find(name); it != files_.end()) return it->second;
  if (auto it = registered_.find(name); it != registered_.end()) return it->second.spec;
  if (auto it = tables_.find(name); it != tables_.end()) return it->second.spec;
  return nullptr;
}

std::shared_ptr<const config::JobSpec> JobRegistry::effective_locked(
    const std::string& name, const std::shared_ptr<const config::JobSpec>& defined) const {
  if (!defined) return nullptr;
  auto it = overrides_.find(name);
  if (it == overrides_.end()) return defined;
  const Overrides& o = it->second;
  auto copy = std::make_shared<config::JobSpec>(*defined);
  if (o.enabled) copy->enabled = *o.enabled;
  if (!o.schedule.is_null()) {
    if (auto schedule = schedule_from_json(o.schedule, *defined)) copy->schedule = schedule.value();
    else log_event(spdlog::level::err, "ignoring a saved schedule override", {{"job", name}, {"problem", schedule.message()}});
  }
  return copy;
}

std::vector<std::shared_ptr<const config::JobSpec>> JobRegistry::all_effective_locked() {
  ++generation_;
  views_.clear();
  std::vector<std::shared_ptr<const config::JobSpec>> all;
  all.reserve(files_.size() + registered_.size() + tables_.size());
  const auto add = [&](const std::string& name) { all.push_back((views_[name] = make_view_locked(name)).spec); };
  for (const auto& [name, spec] : files_) add(name);
  for (const auto& [name, job] : registered_)
    if (!files_.count(name)) add(name);
  for (const auto& [name, job] : tables_)
    if (!files_.count(name) && !registered_.count(name)) add(name);
  return all;
}

// After a change to one job: the scheduler runs its new effective definition.
void JobRegistry::apply_locked(const std::string& name) {
  ++generation_;
  if (!defined_locked(name)) {
    views_.erase(name);
    scheduler_.remove(name);
    return;
  }
  const JobView& view = views_[name] = make_view_locked(name);
  scheduler_.upsert(view.spec);
}

JobView JobRegistry::make_view_locked(const std::string& name) const {
  JobView view;
  view.defined = defined_locked(name);
  view.spec = effective_locked(name, view.defined);
  const auto registered = registered_.find(name);
  view.source = files_.count(name)                 ? JobSource::kFile
                : registered != registered_.end() ? JobSource::kApi
                : tables_.count(name)             ? JobSource::kTable
                                                  : JobSource::kFile;
  if (view.source == JobSource::kApi) view.posted = registered->second.posted;
  const auto o = overrides_.find(name);
  view.schedule_overridden = o != overrides_.end() && !o->second.schedule.is_null();
  return view;
}

std::optional<JobView> JobRegistry::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto it = views_.find(name);
  if (it == views_.end()) return std::nullopt;
  return it->second;
}

std::vector<JobView> JobRegistry::list(std::string_view prefix) const {
  std::lock_guard lock(mutex_);
  std::vector<JobView> views;
  for (auto it = views_.lower_bound(prefix); it != views_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    views.push_back(it->second);
  return views;
}

size_t JobRegistry::size() const {
  std::lock_guard lock(mutex_);
  return views_.size();
}

Change JobRegistry::set_enabled(const std::string& name, bool enabled) {
  std::lock_guard lock(mutex_);
  if (!views_.count(name)) return Change::refused(Problem::kNotFound, "no job named \"" + name + "\"");
  if (auto saved = admin_.set_enabled_override(name, enabled); !saved) return Change::refused(Problem::kFailed, saved.message());
  ++local_writes_;
  overrides_[name].enabled = enabled;
  apply_locked(name);
  return {};
}

Change JobRegistry::set_schedule(const std::string& name, const nlohmann::json& schedule) {
  std::lock_guard lock(mutex_);
  auto defined = defined_locked(name);
  if (!defined || !views_.count(name)) return Change::refused(Problem::kNotFound, "no job named \"" + name + "\"");
  auto checked = schedule_from_json(schedule, *defined);
  if (!checked) return Change::refused(Problem::kInvalid, checked.message());
  if (!checked.value().next(Instant(std::chrono::seconds(now_ms() / 1000))))
    return Change::refused(Problem::kInvalid, "the schedule never fires again");
  if (auto saved = admin_.set_schedule_override(name, schedule.dump()); !saved)
    return Change::refused(Problem::kFailed, saved.message());
  ++local_writes_;
  overrides_[name].schedule = schedule;
  apply_locked(name);
  return {};
}

Change JobRegistry::reset_schedule(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (!views_.count(name)) return Change::refused(Problem::kNotFound, "no job named \"" + name + "\"");
  if (auto saved = admin_.set_schedule_override(name, ""); !saved) return Change::refused(Problem::kFailed, saved.message());
  ++local_writes_;
  if (auto it = overrides_.find(name); it != overrides_.end()) it->second.schedule = nullptr;
  apply_locked(name);
  return {};
}

std::optional<JobRegistry::Registered> JobRegistry::load_registered(const std::string& body,
                                                                    config::Diagnostics& diagnostics) const {
  const auto posted = nlohmann::json::parse(body, nullptr, false);
  if (posted.is_discarded() || !posted.is_object()) {
    diagnostics.push_back({"request body", {1, 1}, "expected a JSON object: a job definition"});
    return std::nullopt;
  }
  if (!posted.contains("name")) {
    diagnostics.push_back({"request body", {1, 1}, "name: required for a registered job"});
    return std::nullopt;
  }
  config::LoadOptions options = load_options_;
  options.from_api = true;
  options.now = Instant(std::chrono::seconds(now_ms() / 1000));
  auto spec = config::load_job_text("request body", body, std::filesystem::path(), options, diagnostics);
  if (!spec) return std::nullopt;
  // The runner's URL passes the check a job's own http calls pass, against the host's list.
  config::JobSpec allowed = *spec;
  allowed.allow.http = registration_urls_;
  if (registration_urls_.empty()) {
    diagnostics.push_back({"request body", {1, 1}, "registration is off: the host config lists no server.registration.urls"});
    return std::nullopt;
  }
  auto normalized = api::normalize_http_url(spec->http->url);
  if (!normalized) {
    diagnostics.push_back({"request body", {1, 1}, "run.http.url: " + normalized.message()});
    return std::nullopt;
  }
  auto checked = api::check_http(allowed, normalized.value());
  if (!checked) {
    diagnostics.push_back({"request body", {1, 1}, "run.http.url: " + spec->http->url +
                                                       " is not in the host's server.registration.urls"});
    return std::nullopt;
  }
  spec->http->url = checked.value();  // normalized: what was matched is what is requested
  spec->file = "registered over the API";
  // A registration cannot use ${env:}, so its header values are literal credentials: treated
  // as secrets (redacted from runs, "***" in the API).
  for (const auto& [header, value] : spec->http->headers) spec->http->secret_headers.insert(header);
  return Registered{std::make_shared<const config::JobSpec>(std::move(*spec)),
                    std::make_shared<const nlohmann::json>(posted)};
}

Change JobRegistry::register_job(const std::string& body, const std::string& by) {
  std::lock_guard lock(mutex_);
  config::Diagnostics diagnostics;
  auto loaded = load_registered(body, diagnostics);
  if (!loaded) return Change::refused(Problem::kInvalid, diagnostics_text(diagnostics));
  const std::string name = loaded->spec->name;
  if (files_.count(name))
    return Change::refused(Problem::kConflict, "the job file " + files_.at(name)->file + " defines \"" + name +
                                                   "\"; a registration cannot replace it");
  Change change;
  auto existing = registered_.find(name);
  if (existing != registered_.end() && *existing->second.posted == *loaded->posted) return change;  // idempotent
  const int64_t now = now_ms();
  if (auto saved = admin_.save_registered_job({name, loaded->posted->dump(), by, now, now}); !saved)
    return Change::refused(Problem::kFailed, saved.message());
  ++local_writes_;
  change.created = existing == registered_.end();
  change.updated = !change.created;
  registered_[name] = std::move(*loaded);
  apply_locked(name);
  return change;
}

void JobRegistry::set_registration_urls(std::vector<std::string> urls) {
  std::lock_guard lock(mutex_);
  registration_urls_ = std::move(urls);
}

Change JobRegistry::unregister(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (files_.count(name))
    return Change::refused(Problem::kConflict, "\"" + name + "\" comes from the job file " + files_.at(name)->file +
                                                   "; only jobs registered over the API can be deleted");
  if (!registered_.count(name)) return Change::refused(Problem::kNotFound, "no registered job named \"" + name + "\"");
  if (auto deleted = admin_.delete_registered_job(name); !deleted) return Change::refused(Problem::kFailed, deleted.message());
  ++local_writes_;
  registered_.erase(name);
  overrides_.erase(name);
  apply_locked(name);
  return {};
}

void JobRegistry::set_table_jobs(const std::string& source, std::vector<std::shared_ptr<const config::JobSpec>> jobs,
                                 std::vector<std::string> definitions) {
  std::lock_guard lock(mutex_);
  std::set<std::string> now;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const std::string name = jobs[i]->name;
    if (files_.count(name) || registered_.count(name)) {
      if (!tables_.count(name))
        log_event(spdlog::level::warn, "a table source's row makes a job whose name is taken; the other job stays",
                  {{"source", source}, {"job", name}});
      continue;
    }
    auto it = tables_.find(name);
    if (it != tables_.end() && it->second.source != source) continue;  // another source's: first come
    now.insert(name);
    if (it != tables_.end() && it->second.definition == definitions[i]) continue;  // unchanged: keeps its schedule
    tables_[name] = TableJob{source, std::move(definitions[i]), std::move(jobs[i])};
    apply_locked(name);
  }
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (it->second.source != source || now.count(it->first)) {
      ++it;
      continue;
    }
    const std::string name = it->first;
    it = tables_.erase(it);
    apply_locked(name);
  }
}

}  // namespace cronhost::dispatch
