// A run's key-value writes: seen by the run at once, committed only with its outcome.
#include <catch2/catch.hpp>

#include "../store/backends.hpp"
#include "../support/temp_dir.hpp"
#include "api/run_kv.hpp"
#include "store/state_store.hpp"

using namespace cronhost;

STORE_CONTRACT_TEST("a run reads its own writes, the store sees them only with the outcome", "[api][kv]") {
  Backend backend;
  auto store = backend.open();
  REQUIRE(store->kv_put("job", "kept", "\"old\"", 1));
  REQUIRE(store->kv_put("job", "gone", "1", 1));

  api::RunKv kv(store.get(), "job");
  REQUIRE(kv.put("kept", "\"new\""));
  REQUIRE(kv.put("added", "[1,2]"));
  REQUIRE(kv.erase("gone"));
  CHECK(kv.get("kept").value() == std::optional<std::string>("\"new\""));
  CHECK(kv.get("added").value() == std::optional<std::string>("[1,2]"));
  CHECK_FALSE(kv.get("gone").value());
  CHECK(store->kv_get("job", "kept").value() == std::optional<std::string>("\"old\""));  // nothing committed yet

  const int64_t id = *store->claim({.job = "job", .scheduled_for = 1000, .started_at = 1000}).value();
  store::RunOutcome outcome{store::RunStatus::kSucceeded, 2000, 1000, "", "", "", false};
  outcome.kv_writes = kv.take_writes();
  CHECK(kv.take_writes().empty());
  store->finish(id, "job", outcome);
  store->flush();
  CHECK(store->kv_get("job", "kept").value() == std::optional<std::string>("\"new\""));
  CHECK(store->kv_get("job", "added").value() == std::optional<std::string>("[1,2]"));
  CHECK_FALSE(store->kv_get("job", "gone").value());
}

TEST_CASE("a run's pending writes are capped", "[api][kv]") {
  api::RunKv kv(nullptr, "job");
  const std::string mib(1 << 20, 'x');
  for (int i = 0; i < 15; ++i) REQUIRE(kv.put("k" + std::to_string(i), mib));
  REQUIRE(kv.put("k0", mib));  // replacing a value does not count it twice
  auto over = kv.put("k16", mib + mib);
  REQUIRE_FALSE(over);
  CHECK(over.message() == "the run's state writes would pass 16 MiB (they are kept until the run ends)");
  REQUIRE(kv.erase("k1"));  // a delete frees its value's room
  CHECK(kv.put("k17", mib));
}
