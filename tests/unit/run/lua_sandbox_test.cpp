// Lua runs: the sandbox refuses every way out, limits stop runaway scripts, and the
// script-facing API (job, log, print, state, json, sleep, require) behaves as documented.
#include <catch2/catch.hpp>

#include "../support/lua_harness.hpp"

using namespace cronhost;
using store::RunStatus;
using test::Harness;

TEST_CASE("a script's return value is the run's result", "[lua]") {
  Harness h;
  auto r = h.run("return {ok = true, n = 3, list = {1, 2}, name = job.name}");
  CHECK(r.status == RunStatus::kSucceeded);
  CHECK(r.result == R"({"list":[1,2],"n":3,"name":"test-job","ok":true})");
  CHECK(h.run("local x = 1").result.empty());
  auto bad = h.run("return function() end");
  CHECK(bad.status == RunStatus::kFailed);
  CHECK(bad.error == "the script returned a value that is not JSON: cannot encode a function");
}

TEST_CASE("errors fail the run with the message and a traceback", "[lua]") {
  Harness h;
  auto r = h.run("local function inner() error('disk full') end\ninner()\n");
  CHECK(r.status == RunStatus::kFailed);
  CHECK(r.error.rfind("job.lua:1: disk full\nstack traceback:", 0) == 0);
  CHECK(r.error.find("in local 'inner'") != std::string::npos);
  auto syntax = h.run("this is not lua");
  CHECK(syntax.status == RunStatus::kFailed);
  CHECK(syntax.error.rfind("the script does not compile: job.lua:1:", 0) == 0);
}

TEST_CASE("the sandbox refuses every way out with a clear error", "[lua][sandbox]") {
  Harness h;
  const std::pair<const char*, const char*> escapes[] = {
      {"os.execute('touch /tmp/cronhost-escaped')", "attempt to call a nil value (field 'execute')"},
      {"os.exit(3)", "attempt to call a nil value (field 'exit')"},
      {"os.remove('/etc/passwd')", "attempt to call a nil value (field 'remove')"},
      {"os.getenv('HOME')", "attempt to call a nil value (field 'getenv')"},
      {"io.open('/etc/passwd')", "attempt to index a nil value (global 'io')"},
      {"require 'os'", "module 'os' not found (looked for"},
      {"require '../../etc/passwd'", "bad argument #1 to 'require' (a module name is letters"},
      {"debug.getregistry()", "attempt to index a nil value (global 'debug')"},
      {"package.loadlib('libc.so.6', 'system')", "attempt to index a nil value (global 'package')"},
      {"string.dump(function() end)", "attempt to call a nil value (field 'dump')"},
      {"dofile('/etc/passwd')", "attempt to call a nil value (global 'dofile')"},
      {"loadfile('/etc/passwd')", "attempt to call a nil value (global 'loadfile')"},
      {"assert(load('\\27Lua\\84\\0'))", "attempt to load a binary chunk (mode is 't')"},
      {"assert(load('\\27Lua', 'x', 'b'))", "attempt to load a binary chunk (mode is 't')"},
      {"collectgarbage = nil; setmetatable(job, {})", "cannot change a protected metatable"},
  };
  for (auto [source, message] : escapes) {
    INFO(source);
    auto r = h.run(source);
    CHECK(r.status == RunStatus::kFailed);
    CHECK(r.error.find(message) != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists("/tmp/cronhost-escaped"));
  // What is there: text load, os.time/date/clock, string, table, math, utf8, coroutine.
  auto ok = h.run(
      "local f = load('return 1 + 1'); assert(f() == 2)\n"
      "assert(load('return job.name')() == 'test-job' and load('return x', 'c', 't', {x = 7})() == 7)\n"
      "assert(type(os.time()) == 'number' and os.date('!%Y', 0) == '1970' and os.clock() >= 0)\n"
      "assert(utf8.len('héllo') == 5 and math.max(1, 2) == 2 and table.concat({'a', 'b'}) == 'ab')\n"
      "local co = coroutine.wrap(function() coroutine.yield(7) end); assert(co() == 7)\n");
  CHECK(ok.status == RunStatus::kSucceeded);
  CHECK(ok.error.empty());
}

TEST_CASE("an infinite loop is stopped at its timeout, even inside pcall", "[lua][limits]") {
  Harness h;
  auto r = h.run("while true do end", std::chrono::milliseconds(200));
  CHECK(r.status == RunStatus::kTimedOut);
  CHECK(r.error == "timed out after 200ms");
  CHECK(r.took < std::chrono::seconds(2));
  auto swallowing = h.run("while true do pcall(function() while true do end end) end", std::chrono::milliseconds(200));
  CHECK(swallowing.status == RunStatus::kTimedOut);
  CHECK(swallowing.took < std::chrono::seconds(2));
}

TEST_CASE("a memory bomb is stopped at the cap", "[lua][limits]") {
  Harness h;
  run::RunLimits limits;
  limits.memory_bytes = size_t{16} << 20;
  auto r = h.run("local t = {} local s = 'x' while true do s = s .. s; t[#t + 1] = s end", std::chrono::seconds(10), limits);
  CHECK(r.status == RunStatus::kFailed);
  CHECK(r.error == "memory limit 16 MiB exceeded");
  auto rep = h.run("local t = {} for i = 1, 1e9 do t[i] = string.rep('y', 1024 * 1024) .. i end", std::chrono::seconds(10), limits);
  CHECK(rep.status == RunStatus::kFailed);
  CHECK(rep.error == "memory limit 16 MiB exceeded");
}

TEST_CASE("a cancelled run stops promptly", "[lua][limits]") {
  Harness h;
  h.cancel = run::CancelReason::kReplaced;
  auto r = h.run("while true do end");
  CHECK(r.status == RunStatus::kCancelled);
  CHECK(r.error == "cancelled: a newer run of the job replaced this one");
  h.cancel = run::CancelReason::kShutdown;
  auto s = h.run("sleep(30)");
  CHECK(s.status == RunStatus::kInterrupted);
  CHECK(s.took < std::chrono::seconds(1));
}

TEST_CASE("print and log go to the output, capped", "[lua][api]") {
  Harness h;
  auto r = h.run("print('a', 1, true) log.info('x=', 2) log.warn('careful') log.error('bad') log.debug('d')");
  CHECK(r.output == "a\t1\ttrue\n[info] x=2\n[warn] careful\n[error] bad\n[debug] d\n");
  run::RunLimits limits;
  limits.output_bytes = 100;
  auto capped = h.run("for i = 1, 1000 do print('line ' .. i) end", std::chrono::seconds(5), limits);
  CHECK(capped.status == RunStatus::kSucceeded);
  CHECK(capped.output.size() == 100);
  CHECK(capped.truncated);
}

TEST_CASE("job, params read-only, json, state, sleep, require", "[lua][api]") {
  Harness h;
  auto r = h.run(
      "assert(job.name == 'test-job' and job.run_id == 42 and job.attempt == 1 and job.trigger == 'schedule')\n"
      "assert(job.scheduled_for == '2026-11-18T11:06:40+00:00', job.scheduled_for)\n"
      "assert(job.params.image == 'ghcr.io/acme/app' and job.params.tags[2] == 'b' and #job.params.tags == 2)\n"
      "local ok, err = pcall(function() job.params.image = 'evil' end)\n"
      "assert(not ok and err:find('read%-only'), err)\n"
      "local keys = {} for k in pairs(job.params) do keys[#keys + 1] = k end table.sort(keys)\n"
      "assert(table.concat(keys, ',') == 'image,tags')\n"
      "local v = json.decode('{\"a\": [1, 2.5, null], \"b\": {}}')\n"
      "assert(v.a[2] == 2.5 and v.a[3] == json.null)\n"
      "assert(json.encode({x = {1, 2}, y = json.null}) == '{\"x\":[1,2],\"y\":null}')\n"
      "assert(not pcall(json.decode, 'nope'))\n"
      "assert(state.get('missing') == nil)\n"
      "assert(state.put('k', {n = 1, list = {'a'}}))\n"
      "assert(state.get('k').list[1] == 'a')\n"
      "assert(state.delete('k') and state.get('k') == nil)\n"
      "assert(not pcall(state.put, 'k', print))\n"
      "local t = os.clock() sleep(0.05)\n"
      "assert(require('util').twice(21) == 42 and require('util') == require('util'))\n"
      "assert(require('nested.mod').name == 'nested.mod')\n"
      "return 'done'\n",
      std::chrono::seconds(5), {}, {{"image", "ghcr.io/acme/app"}, {"tags", {"a", "b"}}});
  CHECK(r.error == "");
  CHECK(r.status == RunStatus::kSucceeded);
  CHECK(r.result == "\"done\"");
}

TEST_CASE("state survives between runs of the same job", "[lua][api]") {
  Harness h;
  CHECK(h.run("local n = (state.get('n') or 0) + 1 state.put('n', n) return n").result == "1");
  CHECK(h.run("local n = (state.get('n') or 0) + 1 state.put('n', n) return n").result == "2");
}

TEST_CASE("sleep ends at the deadline", "[lua][limits]") {
  Harness h;
  auto r = h.run("sleep(10)", std::chrono::milliseconds(150));
  CHECK(r.status == RunStatus::kTimedOut);
  CHECK(r.took < std::chrono::seconds(1));
}
