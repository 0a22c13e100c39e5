// Hostile Lua: scripts that tried to hold a worker past their deadline in C code the
// instruction hook never reaches (the pattern matcher, finalizers, stock C loops), flood the
// host log, or allocate outside the memory cap through a binding.
#include <catch2/catch.hpp>

#include "../support/allocation_counter.hpp"
#include "../support/lua_harness.hpp"

using namespace cronhost;
using store::RunStatus;
using test::Harness;

TEST_CASE("backtracking patterns and long C loops end at the run's timeout", "[lua][hostile]") {
  Harness h;
  const char* const scripts[] = {
      R"~(string.find(("a"):rep(50000), ".-.-.-.-.-b"))~",
      R"~(return (("a"):rep(50000)):match("(.-)(.-)(.-)(.-)b"))~",
      R"~(local s = ("a"):rep(30000) .. "c" return (s:gsub("a*a*a*a*b", "x")))~",
      R"~(for w in (("a"):rep(50000)):gmatch(".-.-.-.-b") do end)~",
      R"~(return (("("):rep(1000000)):find("%b()"))~",
      R"~(return string.find(("a"):rep(4000000), ("a"):rep(200000) .. "b", 1, true))~",
      // A script that swallows the timeout error still ends.
      R"~(while true do pcall(string.find, ("a"):rep(50000), ".-.-.-.-.-b") end)~",
      R"~(return #table.move({}, 1, 1 << 40, 1))~",
      R"~(return #table.concat(setmetatable({}, {__index = table.concat}), "", 1, 1 << 40))~",
  };
  for (const char* source : scripts) {
    INFO(source);
    auto r = h.run(source, std::chrono::milliseconds(300));
    CHECK(r.status == RunStatus::kTimedOut);
    CHECK(r.error == "timed out after 300ms");
    CHECK(r.took < std::chrono::seconds(2));
  }
  // An empty string.rep result is made at once, however many copies.
  auto rep = h.run(R"~(return #string.rep("", math.maxinteger) + #string.rep("", math.maxinteger, ""))~",
                   std::chrono::milliseconds(300));
  CHECK(rep.status == RunStatus::kSucceeded);
  CHECK(rep.result == "0");
}

TEST_CASE("a cancelled run stops inside the pattern matcher too", "[lua][hostile]") {
  Harness h;
  h.cancel = run::CancelReason::kShutdown;
  auto r = h.run(R"~(string.find(("a"):rep(50000), ".-.-.-.-.-b"))~", std::chrono::seconds(30));
  CHECK(r.status == RunStatus::kInterrupted);
  CHECK(r.took < std::chrono::seconds(2));
}

TEST_CASE("a script cannot give an object a finalizer", "[lua][hostile]") {
  Harness h;
  const char* const refused[] = {
      "setmetatable({}, {__gc = function() while true do end end})",
      "local mt = {} rawset(mt, '__gc', function() while true do end end) setmetatable({}, mt)",
      // __gc = false marks the object; a function put there later would be called.
      "local mt = {__gc = false} setmetatable({}, mt) mt.__gc = function() while true do end end",
      "local mt = getmetatable('') mt.__gc = function() while true do end end setmetatable({}, mt)",
      "load('setmetatable({}, {__gc = function() while true do end end})', 'x', 't', {setmetatable = setmetatable})()",
  };
  for (const char* source : refused) {
    INFO(source);
    auto r = h.run(source, std::chrono::milliseconds(500));
    CHECK(r.status == RunStatus::kFailed);
    CHECK(r.error.find("a metatable with __gc is not allowed") != std::string::npos);
    CHECK(r.took < std::chrono::seconds(2));
  }
  // A __gc added after setmetatable is never called: the object was not marked then.
  auto late = h.run(
      "local mt = {} local t = setmetatable({}, mt) mt.__gc = function() while true do end end\n"
      "t = nil collectgarbage() collectgarbage() return 'collected'",
      std::chrono::milliseconds(500));
  CHECK(late.status == RunStatus::kSucceeded);
  CHECK(late.result == "\"collected\"");
  CHECK(late.took < std::chrono::seconds(2));
  // Metatables without __gc work as before.
  auto plain = h.run("return setmetatable({}, {__index = function(_, k) return k .. '!' end}).hi");
  CHECK(plain.result == "\"hi!\"");
}

TEST_CASE("log lines past the run's cap stay out of the host log and are counted", "[lua][hostile]") {
  Harness h;
  auto r = h.run("for i = 1, 5000 do log.info('line ', i) end");
  CHECK(r.status == RunStatus::kSucceeded);
  REQUIRE(r.host_log.size() == 1001);
  CHECK(r.host_log[999] == "info: line 1000");
  CHECK(r.host_log[1000] ==
        "warn: the run reached its host log cap (1000 lines or 256 KiB); its further log lines are only in its output, "
        "and counted");
  CHECK(r.host_log_dropped == 4000);
  CHECK(r.output.rfind("[info] line 1\n[info] line 2\n", 0) == 0);  // the output keeps its own cap

  auto wide = h.run("for i = 1, 100 do log.warn(('x'):rep(10000)) end");
  CHECK(wide.host_log.size() == 26 + 1);  // 26 lines of 10,000 bytes fit in 256 KiB
  CHECK(wide.host_log_dropped == 74);
}

TEST_CASE("json.decode builds its value inside the run's memory cap", "[lua][hostile]") {
  Harness h;
  run::RunLimits roomy;
  roomy.memory_bytes = size_t{256} << 20;
  const size_t before = test::new_bytes_now();
  test::reset_new_peak();
  auto r = h.run(
      "local text = '[' .. string.rep('{\"a\":1,\"b\":\"xy\"}', 200000, ',') .. ']'\n"
      "local v = json.decode(text)\n"
      "assert(#v == 200000 and v[200000].b == 'xy' and v[1].a == 1)\n"
      "return #v",
      std::chrono::seconds(20), roomy);
  const size_t outside = test::new_bytes_peak() - before;
  CHECK(r.error == "");
  CHECK(r.result == "200000");
  // A 3.4 MB text: a JSON tree of it took over 40 MB outside the cap; now only the parser's
  // token buffer and the run's own bookkeeping are.
  CHECK(outside < size_t{2} << 20);

  run::RunLimits small;
  small.memory_bytes = size_t{16} << 20;
  auto bomb = h.run("local v = json.decode('[' .. string.rep('[1,2,3]', 400000, ',') .. ']')", std::chrono::seconds(20), small);
  CHECK(bomb.status == RunStatus::kFailed);
  CHECK(bomb.error == "memory limit 16 MiB exceeded");

  auto shapes = h.run(
      "local v = json.decode('{\"a\": [1, 2.5, null, true, \"s\", {\"k\": []}], \"b\": {}, \"a\": [0]}')\n"
      "assert(#v.a == 1 and v.a[1] == 0 and next(v.b) == nil)\n"
      "local w = json.decode('[1, 2.5, null, true, \"s\\\\u00e9\", {\"k\": [], \"\": 18446744073709551615}]')\n"
      "assert(w[1] == 1 and math.type(w[1]) == 'integer' and w[2] == 2.5 and w[3] == json.null and w[4] == true)\n"
      "assert(w[5] == 's\\u{e9}' and next(w[6].k) == nil and w[6][''] == -1)\n"
      "assert(json.decode('3') == 3 and json.decode('\"x\"') == 'x' and json.decode('null') == json.null)\n"
      "local ok, err = pcall(json.decode, '[1, 2')\n"
      "assert(not ok and err:find('not valid JSON %(at byte 6%)'), err)\n"
      "ok, err = pcall(json.decode, '[1] x')\n"
      "assert(not ok and err:find('not valid JSON'), err)\n"
      "ok, err = pcall(json.decode, ('['):rep(101) .. (']'):rep(101))\n"
      "assert(not ok and err:find('JSON nested deeper than 100 levels'), err)\n"
      "assert(#json.decode(('['):rep(100) .. (']'):rep(100)) == 1)\n");
  CHECK(shapes.error == "");
  CHECK(shapes.status == RunStatus::kSucceeded);
}
