// The worker pool's drained callback (what gives freed memory back, util/malloc_release): it
// runs when a worker empties the queue, and when it asks to be called again later it is,
// though no task comes; a task that comes meanwhile is not held up by it.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "dispatch/worker_pool.hpp"

using namespace cronhost;
using namespace std::chrono_literals;

namespace {

// Waits up to 5 s for `done`.
template <typename Done>
bool eventually(Done done) {
  for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

}  // namespace

TEST_CASE("the drained callback runs once the queue is empty, not before a first task", "[dispatch][pool]") {
  std::atomic<int> drained{0};
  dispatch::WorkerPool pool(2, [&] {
    ++drained;
    return 0ms;
  });
  std::this_thread::sleep_for(20ms);
  CHECK(drained == 0);  // idle from the start: nothing ran, nothing to give back
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) pool.submit([&] { ++ran; });
  REQUIRE(eventually([&] { return ran == 10 && drained >= 1; }));
  const int after = drained;
  std::this_thread::sleep_for(50ms);
  CHECK(drained == after);  // a zero wait: not called again until another task runs
}

TEST_CASE("a drained callback that asks to be called later is, with no task coming", "[dispatch][pool]") {
  std::atomic<int> calls{0};
  dispatch::WorkerPool pool(1, [&] { return ++calls < 3 ? 30ms : 0ms; });
  pool.submit([] {});
  REQUIRE(eventually([&] { return calls == 3; }));
  std::this_thread::sleep_for(100ms);
  CHECK(calls == 3);
}

TEST_CASE("a task submitted while the drained callback waits runs at once", "[dispatch][pool]") {
  std::atomic<int> calls{0};
  dispatch::WorkerPool pool(1, [&] {
    ++calls;
    return 10s;  // a long wait the new task must cut short
  });
  pool.submit([] {});
  REQUIRE(eventually([&] { return calls == 1; }));
  std::atomic<bool> ran{false};
  const auto submitted = std::chrono::steady_clock::now();
  pool.submit([&] { ran = true; });
  REQUIRE(eventually([&] { return ran.load(); }));
  CHECK(std::chrono::steady_clock::now() - submitted < 2s);
}
