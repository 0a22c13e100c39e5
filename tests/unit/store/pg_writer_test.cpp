// PgWriter::call_alone: a task in a transaction of its own, between the work queued before and
// after it (claims: in one group commit with the host's own run endings, two hosts deadlocked).
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>

#include "../support/pg_database.hpp"
#include "store/pg_values.hpp"
#include "store/pg_writer.hpp"

using namespace cronhost;
using namespace cronhost::store;

namespace {

int64_t current_transaction(PgSession& db) { return pg::integer(db.run("SELECT txid_current()").rows[0][0]); }

}  // namespace

TEST_CASE("call_alone runs in a transaction of its own, after the work queued before it committed", "[db][store][postgres]") {
  PgWriter writer(std::make_unique<PgSession>(test::fresh_pg_database(false), "test"));
  writer.call([](PgSession& db) { db.run("CREATE TABLE t (n int)"); });

  for (int round = 0; round < 20; ++round) {  // batches form as the thread finds them: try many
    auto before = std::make_shared<std::atomic<int64_t>>(0);
    writer.post([before](PgSession& db) {
      db.run("INSERT INTO t VALUES (1)");
      before->store(current_transaction(db));
    });
    const auto [alone, committed_before] = writer.call_alone([before](PgSession& db) {
      return std::pair(current_transaction(db),
                       pg::text(db.run("SELECT txid_status($1::bigint)", {pg::param(before->load())}).rows[0][0]));
    });
    const int64_t after = writer.call([](PgSession& db) { return current_transaction(db); });
    INFO("round " << round);
    CHECK(alone != before->load());
    CHECK(alone != after);
    CHECK(committed_before == "committed");
  }
}
