// Azure Blob Storage (and Azurite): block blobs, authorized with the account's Shared Key or
// a SAS. A file up to the multipart threshold is one Put Blob; a larger one goes up as
// blocks (Put Block, each with the Content-MD5 the service checks, the next block's MD5
// computed while one is sent) committed by one Put Block List, so the blob appears whole
// or not at all. Uncommitted blocks are discarded by the service after a week.
#pragma once
#include <memory>

#include "api/object_store.hpp"

namespace cronhost::api {

// The x-ms-version every request names.
inline constexpr const char* kAzureBlobVersion = "2021-08-06";

std::unique_ptr<ObjectStore> make_azure_blob_store(const config::StorageSettings& settings, StorageTransfer& transfer);

}  // namespace cronhost::api
