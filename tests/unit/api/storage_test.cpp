// The storage API's pieces that need no server: part planning, key encoding, the stores'
// timestamps and error documents, Azure's string to sign, key rules, the allowlist, the
// host config's storage: entries and the dry-run capture. The transfers themselves are
// tested against s3rver and Azurite (tests/integration/test_storage.py).
#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "api/azure_shared_key.hpp"
#include "api/run_storage.hpp"
#include "api/storage_parts.hpp"
#include "config/host_config.hpp"

using namespace cronhost;

namespace {

config::JobSpec job_allowing(std::vector<std::string> stores) {
  config::JobSpec job{.name = "nightly-backup", .file = "jobs.d/nightly-backup.yaml",
                      .schedule = schedule::Schedule(schedule::After{}, schedule::Zone::utc())};
  job.allow.storage = std::move(stores);
  return job;
}

config::HostConfig host_with_store() {
  config::HostConfig host;
  config::StorageSettings s3;
  s3.s3 = {"http://127.0.0.1:9", "us-east-1", "backups", "AKID", "SECRETKEY1234", true};
  host.storage["backups"] = s3;
  return host;
}

}  // namespace

TEST_CASE("storage: a file is cut into parts of the part size, at most 10,000 of them", "[storage]") {
  const auto parts = api::plan_parts(40, 16);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].offset == 0);
  CHECK(parts[0].length == 16);
  CHECK(parts[2].offset == 32);
  CHECK(parts[2].length == 8);
  CHECK(api::plan_parts(0, 16).size() == 1);  // an empty file is one empty part
  const uint64_t huge = uint64_t{1} << 40;    // 1 TiB in 16 MiB parts would be 65,536 parts
  const auto grown = api::plan_parts(huge, 16 << 20);
  CHECK(grown.size() <= 10'000);
  CHECK(grown.back().offset + grown.back().length == huge);
}

TEST_CASE("storage: keys are encoded per segment, slashes kept", "[storage]") {
  CHECK(api::encoded_key("app/app-2026 12+04.sql.gz") == "app/app-2026%2012%2B04.sql.gz");
  CHECK(api::encoded_key("ü/a?b#c") == "%C3%BC/a%3Fb%23c");
}

TEST_CASE("storage: both stores' timestamps read as unix seconds", "[storage]") {
  CHECK(api::parse_store_time("2026-12-04T02:00:01.000Z") == 1796349601);
  CHECK(api::parse_store_time("Fri, 04 Dec 2026 02:00:01 GMT") == 1796349601);
  CHECK(api::parse_store_time("yesterday") == 0);
}

TEST_CASE("storage: an error document becomes the status, code and message", "[storage]") {
  CHECK(api::store_error(403, "<?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id "
                              "you provided does not exist in our records.</Message></Error>") ==
        "403 InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.");
  CHECK(api::store_error(403, "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>"
                              "<Message>Server failed to authenticate the request.\nRequestId:1\nTime:x</Message></Error>") ==
        "403 AuthenticationFailed: Server failed to authenticate the request.");
  CHECK(api::store_error(404, "", "BlobNotFound") == "404 BlobNotFound");
  CHECK(api::store_error(502, "Bad gateway\n<html>") == "502: Bad gateway");
}

TEST_CASE("storage: Azure's string to sign has the headers in order and the query sorted", "[storage]") {
  const api::Headers headers = {{"x-ms-version", "2021-08-06"}, {"x-ms-date", "Fri, 04 Dec 2026 02:00:01 GMT"},
                                {"content-length", "0"}, {"content-md5", "MD5=="}, {"x-ms-blob-type", "BlockBlob"}};
  CHECK(api::shared_key_string_to_sign("PUT", "acme", "https://acme.blob.core.windows.net/backups/a%20b?restype=container&comp=List&prefix=x%2Fy",
                                       headers) ==
        "PUT\n\n\n\nMD5==\n\n\n\n\n\n\n\n"
        "x-ms-blob-type:BlockBlob\nx-ms-date:Fri, 04 Dec 2026 02:00:01 GMT\nx-ms-version:2021-08-06\n"
        "/acme/backups/a%20b\ncomp:List\nprefix:x/y\nrestype:container");
  CHECK_FALSE(api::shared_key_authorization("GET", "acme", "not base64!", "https://a/b", {}));
}

TEST_CASE("storage: keys, prefixes and metadata names that are refused", "[storage]") {
  CHECK(api::RunStorage::check_key("app/app-1.sql.gz"));
  for (const std::string& bad : std::vector<std::string>{"", "/abs", "a//b", "a/../b", "./a", "a\nb", std::string(1025, 'k')}) {
    INFO(bad);
    CHECK_FALSE(api::RunStorage::check_key(bad));
  }
  CHECK(api::RunStorage::check_prefix(""));
  CHECK_FALSE(api::RunStorage::check_prefix(std::string("a\0b", 3)));
  CHECK(api::RunStorage::check_metadata_name("engine_2"));
  CHECK_FALSE(api::RunStorage::check_metadata_name("2engine"));
  CHECK_FALSE(api::RunStorage::check_metadata_name("x-engine"));
}

TEST_CASE("storage: a store outside allow.storage or not configured is refused before anything is sent",
          "[storage]") {
  const config::HostConfig host = host_with_store();
  api::EffectLog effects;
  api::Redactor redactor;
  const auto job = job_allowing({"offsite"});
  api::RunStorage storage(job, &host, api::DbRunScope{&effects, &redactor});
  auto denied = storage.list("backups", "");
  REQUIRE_FALSE(denied);
  CHECK(denied.fault() == api::CallFault::kMisuse);
  CHECK(denied.message() == "storage: store backups is not allowed for job nightly-backup (allow.storage)");
  auto missing = storage.put("offsite", "k", {std::nullopt, std::string("x")}, {});
  REQUIRE_FALSE(missing);
  CHECK(missing.message() == "storage.put: no store named 'offsite' in the host config (expected an entry of storage:)");
  const auto allowed_job = job_allowing({"backups"});
  api::RunStorage allowed(allowed_job, &host, api::DbRunScope{&effects, &redactor});
  auto bad_prune = allowed.prune("backups", "app/", {});
  REQUIRE_FALSE(bad_prune);
  CHECK(bad_prune.message() == "storage.prune: give older_than, keep or both (prune never empties a store by default)");
  auto outside = allowed.put("backups", "k", {std::string("/etc/passwd"), std::nullopt}, {});
  REQUIRE_FALSE(outside);
  CHECK(outside.fault() == api::CallFault::kMisuse);
  CHECK_THAT(outside.message(), Catch::Contains("(allow.files)"));
  // Header smuggling through metadata or the content type: refused before any request.
  api::PutOptions smuggled;
  smuggled.metadata = {{"engine", "pg\r\nx-amz-acl: public-read"}};
  auto header = allowed.put("backups", "k", {std::nullopt, std::string("x")}, smuggled);
  REQUIRE_FALSE(header);
  CHECK(header.fault() == api::CallFault::kMisuse);
  CHECK(header.message() == "storage.put: metadata 'engine' must be printable ASCII (the stores send it as an HTTP header)");
  smuggled.metadata = {{"owner", "Zoë"}};
  CHECK_FALSE(allowed.put("backups", "k", {std::nullopt, std::string("x")}, smuggled));
  api::PutOptions typed;
  typed.content_type = "text/plain\r\nx-amz-acl: public-read";
  auto type = allowed.put("backups", "k", {std::nullopt, std::string("x")}, typed);
  REQUIRE_FALSE(type);
  CHECK(type.message() == "storage.put: content_type holds a control character");
}

TEST_CASE("storage: a dry run captures put and delete with store, key and size, sending nothing", "[storage]") {
  const config::HostConfig host = host_with_store();  // port 9: nothing listens, a send would fail
  api::EffectLog effects(api::EffectMode::kDryRun);
  api::Redactor redactor;
  const auto job = job_allowing({"backups"});
  api::RunStorage storage(job, &host, api::DbRunScope{&effects, &redactor});
  auto put = storage.put("backups", "app/report.txt", {std::nullopt, std::string("hello")}, {});
  REQUIRE(put);
  CHECK(put->dry_run);
  CHECK(put->bytes == 5);
  REQUIRE(storage.remove("backups", "app/old.txt"));
  REQUIRE(effects.captured().size() == 2);
  CHECK(effects.captured()[0].kind == "storage");
  CHECK(effects.captured()[0].summary == "put backups:app/report.txt (5 bytes) from content");
  CHECK(effects.captured()[0].detail["bytes"] == 5);
  CHECK(effects.captured()[1].summary == "delete backups:app/old.txt");
}

TEST_CASE("host config: storage entries, and secrets only as ${env:} or ${file:}", "[config][host][storage]") {
  test::TempDir dir;
  ::setenv("CRONHOST_TEST_S3_SECRET", "s3-secret-value", 1);
  ::setenv("CRONHOST_TEST_AZ_KEY", "a2V5LWJ5dGVz", 1);
  const auto file = dir.write("cronhost.yaml",
                              "storage:\n"
                              "  backups: {s3: {endpoint: 'https://s3.eu-central-1.amazonaws.com/', region: eu-central-1, "
                              "bucket: acme-backups, access_key: AKID, secret_key: '${env:CRONHOST_TEST_S3_SECRET}'}, "
                              "part_size_mb: 8}\n"
                              "  offsite: {azure_blob: {account: acme, container: backups, key: '${env:CRONHOST_TEST_AZ_KEY}'}}\n");
  config::Diagnostics diagnostics;
  auto host = config::load_host_config(file, diagnostics);
  REQUIRE(diagnostics.empty());
  REQUIRE(host);
  const auto& s3 = host->storage.at("backups");
  CHECK(s3.kind == config::StorageSettings::Kind::kS3);
  CHECK(s3.s3.endpoint == "https://s3.eu-central-1.amazonaws.com");
  CHECK(s3.s3.secret_key == "s3-secret-value");
  CHECK(s3.part_size == size_t{8} << 20);
  const auto& az = host->storage.at("offsite");
  CHECK(az.kind == config::StorageSettings::Kind::kAzureBlob);
  CHECK(az.azure.endpoint == "https://acme.blob.core.windows.net");
  CHECK(std::count(host->secrets.begin(), host->secrets.end(), "s3-secret-value") >= 1);  // redacted everywhere

  for (const auto& [yaml, problem] : std::vector<std::pair<std::string, std::string>>{
           {"storage:\n  b: {s3: {endpoint: 'http://x', bucket: bkt, access_key: A, secret_key: hunter2}}\n",
            "storage.b.s3.secret_key: is written in plain text"},
           {"storage:\n  b: {azure_blob: {account: acme, container: backups}}\n",
            "storage.b.azure_blob: expected exactly one of key or sas"},
       }) {
    INFO(yaml);
    config::Diagnostics found;
    CHECK_FALSE(config::load_host_config(dir.write("bad.yaml", yaml), found));
    REQUIRE(found.size() == 1);
    CHECK_THAT(found[0].format(), Catch::Contains("bad.yaml:2:") && Catch::Contains(problem));
    CHECK(found[0].format().find("hunter2") == std::string::npos);
  }
}
