"""The daemon gives back what its runs freed. Sixteen workers run Lua jobs that each build and
hold ~22 MB (bench/burst.lua) for a few seconds; then the same jobs return at once. The host's
RSS must fall back near where it started, not stay at the burst's peak: before
util/malloc_release, glibc kept 360 MB here (and 1.9 GB with 64 workers) in its per-thread
arenas after the burst had ended."""
import os
import time
import unittest

from api_site import SiteTestCase
from daemon_site import Site, wait_for

WORKERS = 16
JOBS = 32
BURST_S = 8
IDLE_RSS_MB = 120  # an idle host with these jobs: ~25 MB

BURST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "burst.lua")


def status_mb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class MemoryReturnTest(SiteTestCase):
    def test_rss_falls_back_after_a_burst_of_memory_hungry_runs(self):
        s = self.site = Site(f"workers: {WORKERS}\nshutdown_grace: 2s\nlimits: {{memory_mb: 256}}\n")
        end = int(time.time()) + 2 + BURST_S
        with open(BURST) as f:
            s.write("scripts/burst.lua", f"if os.time() >= {end} then return 0 end\n" + f.read())
        for i in range(JOBS):
            s.job(f"burst{i:02d}", "schedule: {every: 1s, jitter: 999ms}\nrun: {lua: scripts/burst.lua}\n"
                                   "concurrency: allow\ncatchup: {policy: skip}\n")
        s.start()
        time.sleep(max(0.0, end + 1 - time.time()))
        peak = status_mb(s.proc.pid, "VmHWM")
        self.assertGreater(peak, 200, "the burst did not hold much memory: the test proves nothing")
        # The jobs keep running, now holding nothing: the host should hold nearly nothing either.
        try:
            wait_for(lambda: status_mb(s.proc.pid, "VmRSS") < IDLE_RSS_MB, timeout=15,
                     what=f"RSS under {IDLE_RSS_MB} MB after the burst")
        except AssertionError:
            self.fail(f"RSS stayed at {status_mb(s.proc.pid, 'VmRSS'):.0f} MB after the burst "
                      f"(peak {peak:.0f} MB)")
        runs = s.runs()
        self.assertGreater(len(runs), JOBS * BURST_S // 2)
        self.assertEqual([r for r in runs if r["status"] not in ("succeeded", "queued", "running")], [])


if __name__ == "__main__":
    unittest.main()
