// Amazon S3 and S3-compatible servers (MinIO, Ceph, s3rver): requests signed with libcurl's
// AWS SigV4, payload UNSIGNED-PAYLOAD with a Content-MD5 the server checks. Files above the
// store's multipart threshold go up as a multipart upload, each part's MD5 computed while
// the previous part is sent; a failed upload is aborted so no parts are left billed.
#pragma once
#include <memory>

#include "api/object_store.hpp"

namespace cronhost::api {

std::unique_ptr<ObjectStore> make_s3_store(const config::StorageSettings& settings, StorageTransfer& transfer);

}  // namespace cronhost::api
