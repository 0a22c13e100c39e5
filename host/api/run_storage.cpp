#include "api/run_storage.hpp"

#include <algorithm>
#include <cctype>
#include <fcntl.h>

#include "api/beneath.hpp"
#include "api/file_ops.hpp"
#include "api/permissions.hpp"
#include "util/printable.hpp"

namespace cronhost::api {
namespace {

constexpr size_t kMaxKeyBytes = 1024;  // S3's and Azure's limit

bool has_control(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

std::string size_text(uint64_t bytes) { return std::to_string(bytes) + " bytes"; }

}  // namespace

RunStorage::RunStorage(const config::JobSpec& job, const config::HostConfig* host, DbRunScope scope, const Clock& clock)
    : job_(job), host_(host), scope_(std::move(scope)), clock_(clock) {}

Status RunStorage::check_key(const std::string& key) {
  if (key.empty()) return Status::error("the key is empty");
  if (key.size() > kMaxKeyBytes) return Status::error("the key is longer than 1024 bytes");
  if (has_control(key)) return Status::error("the key holds a control character");
  if (key.front() == '/') return Status::error("the key starts with '/' (keys are relative: backups/app.sql.gz)");
  // Segments that tools map to folders in surprising ways: a key is what it says.
  for (size_t start = 0;;) {
    const size_t slash = key.find('/', start);
    const std::string segment = key.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (segment == "." || segment == "..") return Status::error("the key holds a '" + segment + "' segment");
    if (segment.empty() && slash != std::string::npos) return Status::error("the key holds '//'");
    if (slash == std::string::npos) return Status::ok();
    start = slash + 1;
  }
}

Status RunStorage::check_prefix(const std::string& prefix) {
  if (prefix.size() > kMaxKeyBytes) return Status::error("the prefix is longer than 1024 bytes");
  if (has_control(prefix)) return Status::error("the prefix holds a control character");
  return Status::ok();
}

Status RunStorage::check_metadata_name(const std::string& name) {
  // Azure wants C# identifiers; S3 takes those too.
  const bool ok = !name.empty() && name.size() <= 64 && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                  std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
  if (ok) return Status::ok();
  return Status::error("metadata name '" + printable(name, 80) +
                       "' must be letters, digits and '_', not starting with a digit (at most 64)");
}

CallResult<const config::StorageSettings*> RunStorage::allowed(const std::string& function, const std::string& store) const {
  using R = CallResult<const config::StorageSettings*>;
  if (auto ok = check_storage(job_, store); !ok) return R::misuse(ok.message());
  if (!host_ || !host_->storage.count(store))
    return R::misuse(function + ": no store named '" + printable(store, 100) +
                     "' in the host config (expected an entry of storage:)");
  return &host_->storage.at(store);
}

template <typename T>
CallResult<T> RunStorage::store_failed(const std::string& store, const std::string& message) const {
  return CallResult<T>::failed(scope_.redact("storage: " + store + ": " + message));
}

void RunStorage::capture(const std::string& summary, nlohmann::json detail) {
  scope_.effects->capture({"storage", scope_.redact(summary), std::move(detail)});
}

CallResult<StoragePutAnswer> RunStorage::put(const std::string& store, const std::string& key, const StorageSource& source,
                                             const PutOptions& options) {
  using R = CallResult<StoragePutAnswer>;
  auto settings = allowed("storage.put", store);
  if (!settings) return R::from(settings);
  if (auto ok = check_key(key); !ok) return R::misuse("storage.put: " + ok.message());
  if (source.path.has_value() == source.content.has_value())
    return R::misuse("storage.put: give the source as {path = ...} or {content = ...}");
  for (const auto& [name, value] : options.metadata) {
    if (auto ok = check_metadata_name(name); !ok) return R::misuse("storage.put: " + ok.message());
    if (has_control(value) || std::any_of(value.begin(), value.end(), [](unsigned char c) { return c >= 0x80; }))
      return R::misuse("storage.put: metadata '" + name + "' must be printable ASCII (the stores send it as an HTTP header)");
  }
  if (has_control(options.content_type)) return R::misuse("storage.put: content_type holds a control character");

  PutSource from;
  Fd file;
  std::string shown = "content";
  if (source.path) {
    auto located = AllowedPath::locate(job_, *source.path);
    if (!located) return R::misuse("storage.put: " + located.message());
    shown = located->path().string();
    if (const uintmax_t* size = scope_.effects->virtual_file(located->path())) {  // made by this dry run
      from.size = *size;
    } else {
      auto opened = located->open(O_RDONLY);
      if (!opened) {
        if (located->is_denial(opened.message())) return R::misuse("storage.put: " + opened.message());
        return store_failed<StoragePutAnswer>(store, shown + ": " + opened.message());
      }
      auto info = stat_fd(opened->get());
      if (!info) return store_failed<StoragePutAnswer>(store, shown + ": " + info.message());
      if (info->dir) return R::misuse("storage.put: " + shown + " is a folder");
      file = std::move(opened).value();
      from.fd = file.get();
      from.size = info->size;
    }
  } else {
    from.bytes = *source.content;
  }

  if (scope_.dry_run()) {
    capture("put " + store + ":" + key + " (" + size_text(from.total()) + ") from " + shown,
            {{"op", "put"}, {"store", store}, {"key", printable(key)}, {"bytes", from.total()}, {"from", printable(shown)}});
    return StoragePutAnswer{key, from.total(), 1, true};
  }
  StorageTransfer transfer(host_->http.ca_file, scope_.deadline, scope_.cancelled);
  auto put = open_object_store(*settings.value(), transfer)->put(key, from, options);
  if (!put) return store_failed<StoragePutAnswer>(store, put.message());
  return StoragePutAnswer{key, put->bytes, put->parts, false};
}

CallResult<StorageGetAnswer> RunStorage::get(const std::string& store, const std::string& key, const std::string& path) {
  using R = CallResult<StorageGetAnswer>;
  auto settings = allowed("storage.get", store);
  if (!settings) return R::from(settings);
  if (auto ok = check_key(key); !ok) return R::misuse("storage.get: " + ok.message());
  auto located = AllowedPath::locate(job_, path);
  if (!located) return R::misuse("storage.get: " + located.message());
  const std::string shown = located->path().string();
  if (scope_.dry_run()) {
    capture("get " + store + ":" + key + " into " + shown,
            {{"op", "get"}, {"store", store}, {"key", printable(key)}, {"path", printable(shown)}});
    scope_.effects->add_virtual_file(located->path(), 0);
    return StorageGetAnswer{shown, 0, true};
  }
  auto parent = located->open_parent(true);
  if (!parent) {
    if (located->is_denial(parent.message())) return R::misuse("storage.get: " + parent.message());
    return store_failed<StorageGetAnswer>(store, shown + ": " + parent.message());
  }
  auto file = TempFile::create(parent->folder.get(), parent->name);
  if (!file) return store_failed<StorageGetAnswer>(store, shown + ": " + file.message());
  StorageTransfer transfer(host_->http.ca_file, scope_.deadline, scope_.cancelled);
  auto got = open_object_store(*settings.value(), transfer)->get(key, file.value().fd());
  if (!got) return store_failed<StorageGetAnswer>(store, got.message());  // the temporary file goes with `file`
  if (auto committed = file.value().commit(); !committed) return store_failed<StorageGetAnswer>(store, shown + ": " + committed.message());
  return StorageGetAnswer{shown, got.value(), false};
}

CallResult<std::vector<ObjectInfo>> RunStorage::list(const std::string& store, const std::string& prefix) {
  using R = CallResult<std::vector<ObjectInfo>>;
  auto settings = allowed("storage.list", store);
  if (!settings) return R::from(settings);
  if (auto ok = check_prefix(prefix); !ok) return R::misuse("storage.list: " + ok.message());
  if (scope_.effects->offline()) return store_failed<std::vector<ObjectInfo>>(store, "not listed (offline dry run)");
  StorageTransfer transfer(host_->http.ca_file, scope_.deadline, scope_.cancelled);
  auto listed = open_object_store(*settings.value(), transfer)->list(prefix);
  if (!listed) return store_failed<std::vector<ObjectInfo>>(store, listed.message());
  return std::move(listed).value();
}

CallResult<CallDone> RunStorage::remove(const std::string& store, const std::string& key) {
  using R = CallResult<CallDone>;
  auto settings = allowed("storage.delete", store);
  if (!settings) return R::from(settings);
  if (auto ok = check_key(key); !ok) return R::misuse("storage.delete: " + ok.message());
  if (scope_.dry_run()) {
    capture("delete " + store + ":" + key, {{"op", "delete"}, {"store", store}, {"key", printable(key)}});
    return CallDone{};
  }
  StorageTransfer transfer(host_->http.ca_file, scope_.deadline, scope_.cancelled);
  if (auto removed = open_object_store(*settings.value(), transfer)->remove(key); !removed)
    return store_failed<CallDone>(store, removed.message());
  return CallDone{};
}

CallResult<std::vector<std::string>> RunStorage::prune(const std::string& store, const std::string& prefix,
                                                       const StoragePruneOptions& options) {
  using R = CallResult<std::vector<std::string>>;
  auto settings = allowed("storage.prune", store);
  if (!settings) return R::from(settings);
  if (auto ok = check_prefix(prefix); !ok) return R::misuse("storage.prune: " + ok.message());
  if (!options.older_than && !options.keep)
    return R::misuse("storage.prune: give older_than, keep or both (prune never empties a store by default)");
  if (options.older_than && !(*options.older_than >= 0))
    return R::misuse("storage.prune: field 'older_than' must be a number of seconds, 0 or more");
  if (options.keep && !(*options.keep >= 0 && *options.keep == static_cast<int64_t>(*options.keep)))
    return R::misuse("storage.prune: field 'keep' must be a whole number, 0 or more");
  if (scope_.effects->offline()) return store_failed<std::vector<std::string>>(store, "not listed (offline dry run)");

  StorageTransfer transfer(host_->http.ca_file, scope_.deadline, scope_.cancelled);
  auto client = open_object_store(*settings.value(), transfer);
  auto listed = client->list(prefix);
  if (!listed) return store_failed<std::vector<std::string>>(store, listed.message());
  std::vector<ObjectInfo> objects = std::move(listed).value();
  std::sort(objects.begin(), objects.end(), [](const ObjectInfo& a, const ObjectInfo& b) {
    return a.modified != b.modified ? a.modified > b.modified : a.key > b.key;  // newest first
  });
  const int64_t now = clock_.now_ms() / 1000;
  std::vector<std::string> deleted;
  for (size_t i = options.keep ? static_cast<size_t>(std::min(*options.keep, 1e9)) : 0; i < objects.size(); ++i) {
    const ObjectInfo& object = objects[i];
    if (options.older_than && !(static_cast<double>(now - object.modified) > *options.older_than)) continue;
    if (scope_.dry_run()) {
      capture("delete " + store + ":" + object.key + " (prune)",
              {{"op", "delete"}, {"store", store}, {"key", printable(object.key)}, {"by", "prune"}});
    } else if (auto removed = client->remove(object.key); !removed) {
      return store_failed<std::vector<std::string>>(
          store, "deleted " + std::to_string(deleted.size()) + " objects, then " + removed.message());
    }
    deleted.push_back(object.key);
  }
  return deleted;
}

}  // namespace cronhost::api
