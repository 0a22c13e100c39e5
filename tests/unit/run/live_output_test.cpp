// LiveOutput: offsets across reads, the newest kept when a run writes more than the cap (with
// how much a late reader missed), whole UTF-8 characters only, and the end.
#include "run/live_output.hpp"

#include <catch2/catch.hpp>
#include <thread>

using cronhost::run::LiveOutput;
using cronhost::run::LiveOutputs;
using cronhost::run::whole_utf8_prefix;
using namespace std::chrono_literals;

TEST_CASE("reads resume at their offset and see the end once everything is read", "[live_output]") {
  LiveOutput live;
  live.append("line 1\n");
  live.append("line 2\n");
  auto first = live.read(0, 1024, 0ms);
  CHECK(first.text == "line 1\nline 2\n");
  CHECK(first.next == 14);
  CHECK(first.dropped == 0);
  CHECK_FALSE(first.ended);
  auto part = live.read(7, 3, 0ms);  // a reconnect after "line 1\n", three bytes at a time
  CHECK(part.text == "lin");
  CHECK(part.next == 10);
  live.finish("succeeded", "");
  auto rest = live.read(10, 1024, 0ms);
  CHECK(rest.text == "e 2\n");
  CHECK(rest.ended);
  CHECK(rest.status == "succeeded");
  CHECK(live.read(99, 1024, 0ms).ended);  // past the end reads as the end
  CHECK_FALSE(live.read(3, 2, 0ms).ended);  // not while text remains
}

TEST_CASE("a run writing more than the cap keeps the newest and tells a late reader what it missed", "[live_output]") {
  LiveOutput live(10);
  live.append("0123456789");
  live.append("abcde");
  auto late = live.read(0, 1024, 0ms);
  CHECK(late.dropped == 5);
  CHECK(late.text == "56789abcde");
  CHECK(late.next == 15);
  auto current = live.read(12, 1024, 0ms);  // a reader still within what is kept
  CHECK(current.dropped == 0);
  CHECK(current.text == "cde");
}

TEST_CASE("characters are never cut in two", "[live_output]") {
  CHECK(whole_utf8_prefix("ab") == 2);
  CHECK(whole_utf8_prefix("a\xC3") == 1);             // é's first byte only
  CHECK(whole_utf8_prefix("a\xC3\xA9") == 3);
  CHECK(whole_utf8_prefix("a\xE2\x82") == 1);         // two of €'s three bytes
  CHECK(whole_utf8_prefix("\xF0\x9F\x98\x80") == 4);  // a whole emoji
  LiveOutput live;
  live.append("caf\xC3");
  CHECK(live.read(0, 1024, 0ms).text == "caf");  // the é waits for its second byte
  live.append("\xA9!");
  CHECK(live.read(3, 1024, 0ms).text == "\xC3\xA9!");
  LiveOutput small(3);
  small.append("x\xE2\x82\xAC" "y");  // x€y: dropping one byte would cut the €, so it goes whole
  auto piece = small.read(0, 1024, 0ms);
  CHECK(piece.text == "y");
  CHECK(piece.dropped == 4);
}

TEST_CASE("a waiting reader wakes when output comes", "[live_output]") {
  LiveOutput live;
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    live.append("late\n");
  });
  const auto started = std::chrono::steady_clock::now();
  auto piece = live.read(0, 1024, 5s);
  writer.join();
  CHECK(piece.text == "late\n");
  CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("the registry forgets a run when it closes, and its readers still see the end", "[live_output]") {
  LiveOutputs outputs;
  auto live = outputs.open(7);
  live->append("x");
  CHECK(outputs.find(7) == live);
  outputs.close(7, "failed", "boom");
  CHECK(outputs.find(7) == nullptr);
  auto piece = live->read(0, 10, 0ms);
  CHECK(piece.ended);
  CHECK(piece.error == "boom");
}
