"""Hostile Lua through the real daemon: scripts that tried to hold a worker past their
deadline in C code the instruction hook never reaches (backtracking patterns, a looping
__gc, table.move over a huge range), one that floods the host log and one that decodes a
24 MB JSON array, all at once, beside an every-second heartbeat that must stay on time.
An inline plugin stuck in a busy loop turns /health red, and SIGTERM still ends the host
within the grace period plus a few seconds, with every run recorded."""
import json
import os
import time
import unittest
import urllib.error
import urllib.request

from api_site import SiteTestCase, wait_for
from test_plugins import PluginSite, TEST_PLUGINS, soon

GRACE_S = 2
ABANDON_AFTER_S = 3  # Scheduler::kAbandonAfterMs

HOSTILE = {
    # job -> (script, the run's status, text its error must contain)
    "pattern_find": ('string.find(("a"):rep(50000), ".-.-.-.-.-b")\n', "timed_out", "timed out after 2s"),
    "pattern_gsub": ('local s = ("a"):rep(30000) .. "c"\nreturn (s:gsub("a*a*a*a*b", "x"))\n',
                     "timed_out", "timed out after 2s"),
    "pattern_pcall": ('while true do pcall(string.match, ("a"):rep(50000), "(.-)(.-)(.-)b") end\n',
                      "timed_out", "timed out after 2s"),
    "gc_loop": ("setmetatable({}, {__gc = function() while true do end end})\ncollectgarbage()\n",
                "failed", "a metatable with __gc is not allowed"),
    "table_move": ("return #table.move({}, 1, 1 << 40, 1)\n", "timed_out", "timed out after 2s"),
    "log_flood": ('for i = 1, 200000 do log.info("flood ", i) end\nreturn "flooded"\n', "succeeded", ""),
    "json_bomb": ("local text = '[' .. string.rep('[1,2,3]', 3000000, ',') .. ']'\nreturn #json.decode(text)\n",
                  "failed", "memory limit 128 MiB exceeded"),
}


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0


class HostileLuaTest(SiteTestCase):
    def health(self, port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_hostile_scripts_end_and_a_stuck_run_neither_hides_nor_holds_sigterm(self):
        self.assertTrue(os.path.exists(os.path.join(TEST_PLUGINS, "libspin.so")), "build test_plugins first")
        s = self.site = PluginSite(workers=len(HOSTILE) + 4)
        s.write("cronhost.yaml", f"workers: {len(HOSTILE) + 4}\nshutdown_grace: {GRACE_S}s\n"
                                 "limits: {memory_mb: 128}\n"
                                 f'server: {{listen: "127.0.0.1:0", port_file: "{s.port_file}", open: [health]}}\n')
        s.job("heartbeat", "schedule: {every: 1s}\nrun: {lua: scripts/heartbeat.lua}\n", "return {beat = true}\n")
        at = f"{{at: '{soon(3)}'}}"
        for name, (script, _, _) in HOSTILE.items():
            s.job(name, f"schedule: {at}\nrun: {{lua: scripts/{name}.lua}}\ntimeout: 2s\n", script)
        # Stuck for good: a busy loop in plugin code inside the host, which nothing can interrupt.
        s.plugin_job("spin", "libspin.so", schedule=at, isolation="inline", timeout="1s")
        s.start()
        port = int(wait_for(lambda: os.path.exists(s.port_file) and open(s.port_file).read().strip(), what="the port"))
        self.assertEqual(self.health(port)[0], 200)

        def finished(job):
            return [r for r in s.runs(job) if r["status"] not in ("queued", "running")]

        wait_for(lambda: all(finished(name) for name in HOSTILE), timeout=30, what="a finished run of each hostile job")
        runs = {name: finished(name)[0] for name in HOSTILE}
        window_start = min(r["started_at"] for r in runs.values())
        window_end = max(r["finished_at"] for r in runs.values())
        wait_for(lambda: [r for r in finished("heartbeat") if r["scheduled_for"] > window_end + 1000],
                 timeout=10, what="a heartbeat after the hostile runs")

        # The stuck run turns /health red with a reason once it is 5 s past its deadline.
        status, body = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(self.health(port)),
                                timeout=15, what="/health to report the stuck run")
        self.assertEqual(body["overdue_runs"], 1, body)
        self.assertTrue(any("of job spin is" in p and "past its deadline" in p for p in body["problems"]), body)
        peak_mb = peak_rss_mb(s.proc.pid)

        # SIGTERM: the grace period, a short wait, then the stuck run is recorded and left behind.
        started = time.monotonic()
        self.assertEqual(s.stop(timeout=30), 0, s.log_text())
        took = time.monotonic() - started
        self.assertLess(took, GRACE_S + ABANDON_AFTER_S + 2, s.log_text())

        problems = []
        for name, (_, want_status, text) in HOSTILE.items():
            run = runs[name]
            if run["status"] != want_status or text not in (run["error"] or ""):
                problems.append(f"{name}: {run['status']}: {run['error']!r} (expected {want_status} with {text!r})")
            if want_status == "timed_out" and run["duration_ms"] > 3000:
                problems.append(f"{name} ended {run['duration_ms']} ms after it started, past its 2 s timeout")
        self.assertEqual(problems, [], "\n".join(problems))

        spin = s.runs("spin")[0]
        self.assertEqual(spin["status"], "interrupted")
        self.assertIn("did not stop (abandoned)", spin["error"])
        self.assertEqual([r for r in s.runs() if r["status"] in ("queued", "running")], [])

        # The flood reached the host log up to the cap, then one line said so; the run's
        # "run finished" line counts what was left out.
        log = s.log_text()
        flood_lines = [line for line in log.splitlines() if "job=log_flood" in line and 'text="flood ' in line]
        self.assertEqual(len(flood_lines), 1000)
        self.assertIn("the run reached its host log cap", log)
        self.assertRegex(log, r'msg="run finished" .*job=log_flood log_lines_dropped=199000 ')
        # The 24 MB JSON text was decoded inside the run's 128 MiB cap, not beside it.
        self.assertLess(peak_mb, 320, "peak RSS of the host")

        # The heartbeat fired every second, on time, all through the hostile runs.
        beats = [r for r in s.runs("heartbeat") if window_start - 1000 <= r["scheduled_for"] <= window_end + 1000]
        self.assertGreaterEqual(len(beats), (window_end - window_start) // 1000 + 1, beats)
        self.assertEqual([r["status"] for r in beats], ["succeeded"] * len(beats))
        slots = [r["scheduled_for"] for r in beats]
        self.assertEqual([b - a for a, b in zip(slots, slots[1:])], [1000] * (len(slots) - 1), "a heartbeat was missed")
        self.assertLess(max(r["lateness_ms"] for r in beats), 1000, beats)


if __name__ == "__main__":
    unittest.main()
