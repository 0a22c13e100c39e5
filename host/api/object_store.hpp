// An object store as the storage API sees it: put, get, list and delete by key, whatever the
// service. S3 (api/s3_store) and Azure Blob Storage (api/azure_blob_store) implement it over
// a run's StorageTransfer. Messages are the store's own words ("403 AccessDenied: ...");
// RunStorage adds "storage: NAME: ". Belongs to the run's thread.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/storage_transfer.hpp"
#include "config/host_config.hpp"
#include "util/status.hpp"

namespace cronhost::api {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  int64_t modified = 0;  // unix seconds
};

// What is uploaded: a whole open file (streamed, never read into memory) or bytes.
struct PutSource {
  int fd = -1;
  uint64_t size = 0;        // of the file
  std::string_view bytes;   // when fd < 0
  uint64_t total() const { return fd >= 0 ? size : bytes.size(); }
};

struct PutOptions {
  std::string content_type = "application/octet-stream";
  std::vector<std::pair<std::string, std::string>> metadata;  // names: letters, digits, '-' and '_'
};

struct PutOutcome {
  uint64_t bytes = 0;
  int parts = 1;  // 1: one request; more: a multipart upload (S3) or blocks (Azure)
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // The object appears whole or not at all: a failed multipart upload is aborted.
  virtual Result<PutOutcome> put(const std::string& key, const PutSource& source, const PutOptions& options) = 0;
  // The object's bytes into `fd` (open for writing, empty); the byte count. Checked against
  // the store's checksum when it has one for the whole object.
  virtual Result<uint64_t> get(const std::string& key, int fd) = 0;
  // Every object whose key starts with `prefix`, in key order (all pages).
  virtual Result<std::vector<ObjectInfo>> list(const std::string& prefix) = 0;
  // Succeeds for a key that is not there.
  virtual Status remove(const std::string& key) = 0;
};

std::unique_ptr<ObjectStore> open_object_store(const config::StorageSettings& settings, StorageTransfer& transfer);

}  // namespace cronhost::api
