"""kill -9 in a loop under every-second jobs: nothing doubled, nothing lost.

Twenty-odd kills at random points of the host's life, with jobs that count in their
key-value store, fail their first attempts (retries waiting out a backoff when the kill
comes) and catch up with each policy. Then one clean run to let the owed work finish, and
the state file is checked against the promises in README ("Scheduling")."""
import collections
import random
import time
import unittest

from daemon_site import Site, wait_for

EVERY_SECOND = 'schedule: {cron: "* * * * * *"}\n'
COUNTER = """
local n = state.get("n") or 0
sleep(0.25)
assert(state.put("n", n + 1))
return n + 1
"""
FLAKY = """
if job.attempt == 1 then error("the first attempt always fails") end
return job.attempt
"""
KILLS = 22


class KillLoopTest(unittest.TestCase):
    def setUp(self):
        self.site = Site(config="workers: 4\nshutdown_grace: 2s\n")

    def tearDown(self):
        self.site.cleanup()

    def test_kill9_loop_loses_and_doubles_nothing(self):
        s = self.site
        for policy in ("skip", "latest", "all"):
            s.job(f"count-{policy}", EVERY_SECOND + f"run: {{lua: scripts/count-{policy}.lua}}\n"
                  f"concurrency: forbid\nretries: {{attempts: 3, backoff: 1s}}\n"
                  f"catchup: {{policy: {policy}, window: 1h}}\n", COUNTER)
        s.job("flaky", EVERY_SECOND + "run: {lua: scripts/flaky.lua}\nconcurrency: allow\n"
              "retries: {attempts: 2, backoff: 2s, max_backoff: 2s}\ncatchup: {policy: skip}\n", FLAKY)
        rng = random.Random(20261203)
        restarts = 0
        for _ in range(KILLS):
            s.start()
            restarts += 1
            time.sleep(rng.uniform(0.4, 1.6))
            s.kill9()
        # One clean life long enough for every owed retry (due at most 2 s after its failure)
        # and catch-up run to finish.
        s.start()
        wait_for(lambda: self.settled(), timeout=30, what="owed retries and catch-up to finish")
        time.sleep(1.5)
        self.assertEqual(s.stop(), 0)

        runs = s.runs()
        self.assertFalse([r for r in runs if r["status"] in ("queued", "running")], "a run was left unfinished")
        by_job = collections.defaultdict(list)
        for r in runs:
            by_job[r["job"]].append(r)

        # No slot succeeded twice, in any job.
        for job, rows in by_job.items():
            ok = collections.Counter(r["scheduled_for"] for r in rows if r["status"] == "succeeded")
            self.assertEqual([k for k, n in ok.items() if n > 1], [], f"{job}: a slot succeeded twice")

        # The key-value store counts exactly the succeeded runs: writes commit with the outcome.
        for policy in ("skip", "latest", "all"):
            job = f"count-{policy}"
            succeeded = sum(r["status"] == "succeeded" for r in by_job[job])
            kv = s.query("SELECT value FROM kv WHERE job = ? AND key = 'n'", job)
            self.assertEqual(int(kv[0]["value"]) if kv else 0, succeeded, f"{job}: kv differs from succeeded runs")

        # No retry lost: every failed or interrupted attempt with attempts left has its retry.
        for job, rows in by_job.items():
            attempts = 2 if job == "flaky" else 3
            have = {(r["scheduled_for"], r["attempt"]) for r in rows}
            for r in rows:
                if r["status"] in ("failed", "timed_out", "interrupted") and r["attempt"] < attempts:
                    # Run, or still owed and recorded (a failure just before the clean stop).
                    kept = (r["scheduled_for"], r["attempt"] + 1) in have or r["retry_at"] is not None
                    self.assertTrue(kept, f"{job}: run {r['id']} ({r['status']}, attempt {r['attempt']}) lost its retry")
        flaky_retries = [r for r in by_job["flaky"] if r["trigger"] == "retry"]
        self.assertTrue(flaky_retries and all(r["status"] in ("succeeded", "interrupted", "failed")
                                              for r in flaky_retries))

        # catchup: all is exact: every slot from the first to the last has its first attempt.
        slots = sorted({r["scheduled_for"] for r in by_job["count-all"] if r["attempt"] == 1})
        missing = sorted(set(range(slots[0], slots[-1] + 1000, 1000)) - set(slots))
        self.assertEqual(missing, [], "catchup: all lost slots")
        # latest: at most one catch-up run per restart; skip: none.
        self.assertLessEqual(sum(r["trigger"] == "catchup" for r in by_job["count-latest"]), restarts + 1)
        self.assertEqual([r for r in by_job["count-skip"] if r["trigger"] == "catchup"], [])

    def settled(self):
        """Every retry owed by the killed lives has run: no first attempt of `flaky` that
        failed more than a backoff ago is without its retry."""
        rows = self.site.runs("flaky")
        have = {(r["scheduled_for"], r["attempt"]) for r in rows if r["status"] not in ("queued", "running")}
        owed = [r for r in rows if r["attempt"] == 1 and r["status"] in ("failed", "interrupted")
                and r["finished_at"] and r["finished_at"] < time.time() * 1000 - 2500]
        return owed and all((r["scheduled_for"], 2) in have for r in owed)


if __name__ == "__main__":
    unittest.main()
