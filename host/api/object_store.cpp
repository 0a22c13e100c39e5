#include "api/object_store.hpp"

#include "api/azure_blob_store.hpp"
#include "api/s3_store.hpp"

namespace cronhost::api {

std::unique_ptr<ObjectStore> open_object_store(const config::StorageSettings& settings, StorageTransfer& transfer) {
  if (settings.kind == config::StorageSettings::Kind::kAzureBlob) return make_azure_blob_store(settings, transfer);
  return make_s3_store(settings, transfer);
}

}  // namespace cronhost::api
