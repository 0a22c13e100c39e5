"""The daemon gives back what its runs freed. A burst of one-shot Lua jobs on sixteen workers,
each run building and holding ~22 MB (bench/burst.lua); after the burst nothing runs at all.
The host's RSS must fall back near where it started, not stay at the burst's peak: before
util/malloc_release, glibc kept ~360 MB here (1.9 GB with 64 workers) in its per-thread arenas
after the burst had ended. Nothing running afterwards is the hard case: the trim that the last
runs asked for may fall inside the once-a-second limit and must still happen."""
import os
import time
import unittest

from api_site import SiteTestCase
from daemon_site import Site, wait_for
from test_plugins import soon

WORKERS = 16
JOBS = 64
BURST_S = 4  # the one-shot times spread over this many seconds
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
        with open(BURST) as f:
            s.write("scripts/burst.lua", f.read())
        # Far enough ahead for a slow start on a loaded machine: a one-shot time already past
        # when the host first sees the job never fires.
        for i in range(JOBS):
            s.job(f"burst{i:02d}", f"schedule: {{at: '{soon(6 + i % BURST_S)}'}}\nrun: {{lua: scripts/burst.lua}}\n")
        s.start()

        def all_finished():
            done = [r for r in s.runs() if r["status"] not in ("queued", "running")]
            return done if len(done) == JOBS else None
        runs = wait_for(all_finished, timeout=60, what="every run")
        self.assertEqual([r["job"] for r in runs if r["status"] != "succeeded"], [])
        peak = status_mb(s.proc.pid, "VmHWM")
        self.assertGreater(peak, 200, "the burst did not hold much memory: the test proves nothing")
        try:
            wait_for(lambda: status_mb(s.proc.pid, "VmRSS") < IDLE_RSS_MB, timeout=5,
                     what=f"RSS under {IDLE_RSS_MB} MB after the burst")
        except AssertionError:
            self.fail(f"RSS stayed at {status_mb(s.proc.pid, 'VmRSS'):.0f} MB after the burst (peak {peak:.0f} MB)")


if __name__ == "__main__":
    unittest.main()
