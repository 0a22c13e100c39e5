"""The daemon end to end: real `cronhost run` processes, real state files, real signals."""
import os
import signal
import subprocess
import time
import unittest

from daemon_site import Site, wait_for

EVERY_SECOND = 'schedule: {cron: "* * * * * *"}\n'
OK_SCRIPT = "return {ok = true}\n"


class DaemonTest(unittest.TestCase):
    def setUp(self):
        self.site = Site()

    def tearDown(self):
        self.site.cleanup()

    def final_runs(self, job=None):
        return [r for r in self.site.runs(job) if r["status"] not in ("queued", "running")]

    def test_runs_fire_at_their_seconds_and_are_recorded(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", "log.info('tick') return {n = 1}\n")
        s.start()
        wait_for(lambda: len(self.final_runs("tick")) >= 4, what="four finished runs")
        self.assertEqual(s.stop(), 0)
        # A slot that fired as SIGTERM came never starts; on a busy machine that can happen.
        runs = [r for r in s.runs("tick") if r["error"] != "the host stopped before the run started"]
        self.assertGreaterEqual(len(runs), 4)
        slots = [r["scheduled_for"] for r in runs]
        self.assertEqual(len(slots), len(set(slots)), "a slot ran twice")
        for r in runs:
            self.assertEqual(r["scheduled_for"] % 1000, 0)
            self.assertEqual(r["status"], "succeeded")
            self.assertEqual(r["trigger"], "schedule")
            self.assertEqual(r["result"], '{"n":1}')
            self.assertIn("[info] tick", r["output"])
            self.assertLess(r["lateness_ms"], 500)
            self.assertGreaterEqual(r["started_at"], r["scheduled_for"])
        self.assertEqual([b - a for a, b in zip(slots, slots[1:])], [1000] * (len(slots) - 1))
        state = s.query("SELECT * FROM job_state WHERE job = 'tick'")[0]
        self.assertEqual(state["runs"], len(runs))
        self.assertEqual(state["successes"], len(runs))
        self.assertIn("run finished", s.log_text())

    def test_sighup_adds_changes_removes_and_survives_a_broken_file(self):
        s = self.site
        for name in ("keep", "change", "remove", "breaks"):
            s.job(name, EVERY_SECOND + f"run: {{lua: scripts/{name}.lua}}\nparams: {{v: 1}}\n",
                  "return job.params.v\n")
        s.job("jittery", 'schedule: {cron: "* * * * * *", jitter: 900ms}\nrun: {lua: scripts/jittery.lua}\n', OK_SCRIPT)
        s.start()
        wait_for(lambda: all(s.runs(n) for n in ("keep", "change", "remove", "breaks")), what="first runs")
        s.job("added", EVERY_SECOND + "run: {lua: scripts/added.lua}\n", OK_SCRIPT)
        s.job("change", EVERY_SECOND + "run: {lua: scripts/change.lua}\nparams: {v: 2}\n")
        s.job("breaks", 'schedule: {cron: "* * * * * * * *"}\nrun: {lua: scripts/breaks.lua}\nparams: {v: 2}\n')
        s.remove_job("remove")
        s.hup()
        hup_at = int(time.time() * 1000)
        for _ in range(5):  # each reload lands at some point of a jittered slot's wait
            time.sleep(0.37)
            s.hup()
        wait_for(lambda: len([r for r in s.runs("change") if r["result"] == "2"]) >= 2, what="the changed job")
        wait_for(lambda: len(s.runs("added")) >= 2, what="the added job")
        time.sleep(1.2)
        self.assertIsNone(s.proc.poll(), "the host exited on a bad file")
        self.assertEqual(s.stop(), 0)
        late_removed = [r for r in s.runs("remove") if r["scheduled_for"] > hup_at + 1000]
        self.assertEqual(late_removed, [], "a removed job kept firing")
        after = [r for r in s.runs("breaks") if r["scheduled_for"] > hup_at + 1000]
        self.assertTrue(after, "the last good version of a broken job stopped")
        self.assertTrue(all(r["result"] == "1" for r in after))
        self.assertIn("breaks.yaml:1:", s.log_text())
        # Reloads while a slot waits out its jitter lose no slot.
        slots = sorted(r["scheduled_for"] for r in s.runs("jittery"))
        self.assertEqual(slots, list(range(slots[0], slots[-1] + 1000, 1000)))
        self.assertIn("keeping the last good version", s.log_text())

    def test_kill9_then_restart_runs_no_slot_twice_and_leaves_no_run_unfinished(self):
        s = self.site
        s.job("slow", EVERY_SECOND + "run: {lua: scripts/slow.lua}\nconcurrency: allow\nretries: {attempts: 2, backoff: 1s}\n",
              "sleep(0.7) return 1\n")
        s.start()
        wait_for(lambda: any(r["status"] == "running" for r in s.runs("slow")) and len(s.runs("slow")) >= 3,
                 what="runs in flight")
        s.kill9()
        unfinished = [r for r in s.runs("slow") if r["status"] == "running"]
        self.assertTrue(unfinished, "expected runs in flight at kill -9")
        s.start()
        wait_for(lambda: len([r for r in s.runs("slow") if r["trigger"] == "retry"]) >= 1, what="the retry")
        time.sleep(1.5)
        self.assertEqual(s.stop(), 0)
        runs = s.runs("slow")
        keys = [(r["scheduled_for"], r["attempt"]) for r in runs if r["trigger"] in ("schedule", "catchup", "retry")]
        self.assertEqual(len(keys), len(set(keys)), "a slot ran twice")
        self.assertFalse([r for r in runs if r["status"] in ("queued", "running")], "a run was left unfinished")
        interrupted = {r["id"] for r in runs if r["status"] == "interrupted"}
        self.assertTrue(interrupted >= {r["id"] for r in unfinished})
        retried = [r for r in runs if r["trigger"] == "retry"]
        self.assertTrue(all(r["attempt"] == 2 and r["first_run_id"] in interrupted for r in retried))

    def test_catchup_policies_after_downtime(self):
        s = self.site
        for policy in ("latest", "all", "skip"):
            s.job(policy, EVERY_SECOND + f"run: {{lua: scripts/{policy}.lua}}\ncatchup: {{policy: {policy}, window: 1h}}\n",
                  OK_SCRIPT)
        s.start()
        wait_for(lambda: all(len(s.runs(p)) >= 2 for p in ("latest", "all", "skip")), what="runs before the downtime")
        self.assertEqual(s.stop(), 0)
        stopped_at = int(time.time() * 1000)
        time.sleep(3.5)
        s.start()
        time.sleep(1.5)
        self.assertEqual(s.stop(), 0)
        catchups = {p: [r for r in s.runs(p) if r["trigger"] == "catchup"] for p in ("latest", "all", "skip")}
        self.assertEqual(len(catchups["latest"]), 1)
        self.assertGreaterEqual(len(catchups["all"]), 3)
        self.assertEqual(catchups["skip"], [])
        self.assertTrue(all(r["status"] == "succeeded" for r in catchups["all"]), "catch-up runs skipped each other")
        slots = [r["scheduled_for"] for r in sorted(catchups["all"], key=lambda r: r["started_at"])]
        self.assertEqual(slots, sorted(slots), "catch-up runs oldest first")
        self.assertTrue(all(slot > stopped_at - 1000 for slot in slots))
        self.assertEqual(catchups["latest"][0]["scheduled_for"], max(slots))
        for p in ("latest", "all", "skip"):
            keys = [r["scheduled_for"] for r in s.runs(p)]
            self.assertEqual(len(keys), len(set(keys)), f"{p}: a slot ran twice")

    def test_concurrency_forbid_allow_replace(self):
        s = self.site
        slow = "sleep(2.5) return 1\n"
        s.job("forbid", EVERY_SECOND + "run: {lua: scripts/forbid.lua}\nconcurrency: forbid\n", slow)
        s.job("allow", EVERY_SECOND + "run: {lua: scripts/allow.lua}\nconcurrency: allow\nmax_instances: 2\n", slow)
        s.job("replace", EVERY_SECOND + "run: {lua: scripts/replace.lua}\nconcurrency: replace\n", slow)
        s.start()
        time.sleep(4.2)
        self.assertEqual(s.stop(), 0)
        forbid = s.runs("forbid")
        self.assertTrue([r for r in forbid if r["status"] == "skipped"])
        self.assertIn("the previous run is still going (concurrency: forbid)",
                      [r["error"] for r in forbid if r["status"] == "skipped"][0])
        allow = s.runs("allow")
        self.assertTrue([r for r in allow if r["status"] == "skipped"])
        self.assertLessEqual(max_overlap(allow), 2)
        self.assertGreaterEqual(max_overlap(allow), 2)
        replace = s.runs("replace")
        cancelled = [r for r in replace if r["status"] == "cancelled"]
        self.assertGreaterEqual(len(cancelled), 2)
        self.assertEqual(cancelled[0]["error"], "cancelled: a newer run of the job replaced this one")
        self.assertLessEqual(max_overlap(replace, slack_ms=50), 1)

    def test_retries_with_backoff_link_to_the_first_attempt(self):
        s = self.site
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        s.job("flaky", f"schedule: {{at: {at}}}\nrun: {{lua: scripts/flaky.lua}}\n"
                       "retries: {attempts: 3, backoff: 1s, max_backoff: 2s}\n", "error('boom')\n")
        s.start()
        wait_for(lambda: len(self.final_runs("flaky")) >= 3, timeout=15, what="three attempts")
        time.sleep(0.5)
        self.assertEqual(s.stop(), 0)
        runs = s.runs("flaky")
        self.assertEqual([r["attempt"] for r in runs], [1, 2, 3])
        self.assertEqual([r["trigger"] for r in runs], ["schedule", "retry", "retry"])
        self.assertTrue(all(r["status"] == "failed" and "boom" in r["error"] for r in runs))
        self.assertEqual(len({r["scheduled_for"] for r in runs}), 1)
        self.assertEqual([r["first_run_id"] for r in runs], [None, runs[0]["id"], runs[0]["id"]])
        gaps = [b["started_at"] - a["finished_at"] for a, b in zip(runs, runs[1:])]
        self.assertGreaterEqual(gaps[0], 450)   # backoff 1s with equal jitter: 0.5-1s
        self.assertLessEqual(gaps[0], 1300)
        self.assertGreaterEqual(gaps[1], 950)   # doubled: 1-2s
        self.assertLessEqual(gaps[1], 2300)

    def test_runaway_scripts_are_stopped_and_the_host_carries_on(self):
        s = Site(config="workers: 4\nshutdown_grace: 2s\nlimits: {memory_mb: 16}\n")
        self.site.cleanup()
        self.site = s
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        s.job("loop", f"schedule: {{at: {at}}}\nrun: {{lua: scripts/loop.lua}}\ntimeout: 500ms\n", "while true do end\n")
        s.job("bomb", f"schedule: {{at: {at}}}\nrun: {{lua: scripts/bomb.lua}}\n",
              "local t = {} while true do t[#t + 1] = string.rep('x', 1e6) .. #t end\n")
        s.job("escape", f"schedule: {{at: {at}}}\nrun: {{lua: scripts/escape.lua}}\n", "os.execute('id')\n")
        s.job("fine", EVERY_SECOND + "run: {lua: scripts/fine.lua}\n", OK_SCRIPT)
        s.start()
        wait_for(lambda: all(self.final_runs(j) for j in ("loop", "bomb", "escape")), timeout=15, what="the runaways")
        fine_before = len(s.runs("fine"))
        wait_for(lambda: len(s.runs("fine")) > fine_before + 1, what="other jobs to carry on")
        self.assertEqual(s.stop(), 0)
        loop, bomb, escape = (s.runs(j)[0] for j in ("loop", "bomb", "escape"))
        self.assertEqual((loop["status"], loop["error"]), ("timed_out", "timed out after 500ms"))
        self.assertLess(loop["duration_ms"], 1500)
        self.assertEqual((bomb["status"], bomb["error"]), ("failed", "memory limit 16 MiB exceeded"))
        self.assertEqual(escape["status"], "failed")
        self.assertIn("attempt to call a nil value (field 'execute')", escape["error"])

    def test_a_second_host_on_the_same_state_file_refuses_to_start(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", OK_SCRIPT)
        s.start()
        second = s.cli("run", "--jobs", os.path.join(s.root, "jobs.d"), "--state", s.state)
        self.assertEqual(second.returncode, 1)
        self.assertIn("another cronhost (pid %d) is using the state file" % s.proc.pid, second.stderr)
        self.assertEqual(s.stop(), 0)

    def test_a_missing_or_unreadable_jobs_folder_at_sighup_keeps_the_last_good_jobs(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", OK_SCRIPT)
        s.start()
        wait_for(lambda: s.runs("tick"), what="a first run")
        jobs = os.path.join(s.root, "jobs.d")
        os.rename(jobs, jobs + ".away")  # missing
        s.hup()
        with open(jobs, "w") as f:  # a file where the folder should be: it cannot be listed
            f.write("not a folder\n")
        s.hup()
        hup_at = int(time.time() * 1000)
        wait_for(lambda: len([r for r in s.runs("tick") if r["scheduled_for"] > hup_at + 1000]) >= 2, timeout=15,
                 what="the kept job to go on firing")
        self.assertEqual(s.stop(), 0)
        log = s.log_text()
        self.assertEqual(log.count("cannot read the jobs folder; keeping the jobs loaded before"), 2, log)
        self.assertIn("keeping the jobs loaded before", log)
        self.assertNotIn("reloaded jobs=0", log)

    def test_sigterm_interrupts_runs_past_the_grace_period(self):
        s = self.site
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))  # at least 2 s ahead once truncated to the second
        s.job("long", f"schedule: {{at: {at}}}\nrun: {{lua: scripts/long.lua}}\n", "sleep(60)\n")
        s.start()
        # Running, not only claimed: a SIGTERM between the two (a loaded machine) ends the run
        # before it starts, with another error.
        wait_for(lambda: [r for r in s.runs("long") if r["status"] == "running"], what="the long run to start")
        started = time.monotonic()
        self.assertEqual(s.stop(), 0)
        self.assertLess(time.monotonic() - started, 6)  # grace 2s, then interrupted
        run = s.runs("long")[0]
        self.assertEqual(run["status"], "interrupted")
        self.assertEqual(run["error"], "interrupted: the host is shutting down")

    def test_after_chains_fire_on_the_named_status(self):
        s = self.site
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))  # at least 2 s ahead once truncated to the second
        s.job("backup", f"schedule: {{at: {at}}}\nrun: {{lua: scripts/backup.lua}}\n", OK_SCRIPT)
        s.job("report", "schedule: {after: {job: backup, status: succeeded}}\nrun: {lua: scripts/report.lua}\n", OK_SCRIPT)
        s.job("alarm", "schedule: {after: {job: backup, status: failed}}\nrun: {lua: scripts/alarm.lua}\n", OK_SCRIPT)
        s.start()
        wait_for(lambda: self.final_runs("report"), what="the chained job")
        time.sleep(0.3)
        self.assertEqual(s.stop(), 0)
        self.assertEqual(s.runs("report")[0]["trigger"], "after")
        self.assertEqual(s.runs("alarm"), [])

    def test_history_show_and_dry_run(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n",
              "local n = (state.get('n') or 0) + 1 state.put('n', n) print('n is', n) return {n = n}\n")
        s.job("broken", 'schedule: {cron: "@daily"}\nrun: {lua: scripts/broken.lua}\n', "error('nope')\n")
        s.start()
        wait_for(lambda: len(self.final_runs("tick")) >= 2, what="runs")
        history = s.cli("history", "tick", "--state", s.state, "--json")   # while the host runs
        self.assertEqual(history.returncode, 0, history.stderr)
        self.assertIn('"status": "succeeded"', history.stdout)
        self.assertEqual(s.stop(), 0)
        first = s.runs("tick")[0]["id"]
        show = s.cli("show", str(first), "--state", s.state)
        self.assertEqual(show.returncode, 0)
        self.assertIn("n is\t1", show.stdout)
        count = s.query("SELECT value FROM kv WHERE job = 'tick' AND key = 'n'")[0]["value"]
        jobs = os.path.join(s.root, "jobs.d")
        dry = s.cli("dry-run", "tick", "--jobs", jobs, "--state", s.state)
        self.assertEqual(dry.returncode, 0, dry.stdout + dry.stderr)
        self.assertIn(f'"n": {int(count) + 1}', dry.stdout)
        self.assertEqual(s.query("SELECT value FROM kv WHERE job = 'tick' AND key = 'n'")[0]["value"], count)
        listed = s.cli("list", "--jobs", jobs, "--state", s.state)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        tick_row = [line for line in listed.stdout.splitlines() if line.startswith("tick ")][0]
        self.assertTrue(tick_row.rstrip().endswith("succeeded"), tick_row)
        failing = s.cli("dry-run", "broken", "--jobs", jobs, "--state", s.state)
        self.assertEqual(failing.returncode, 1)
        self.assertIn("nope", failing.stdout)
        self.assertEqual(s.cli("dry-run", "nosuch", "--jobs", jobs, "--state", s.state).returncode, 2)


def max_overlap(runs, slack_ms=0):
    """The most runs that were running at the same instant."""
    events = []
    for r in runs:
        if r["status"] == "skipped" or r["started_at"] is None or r["finished_at"] is None:
            continue
        events.append((r["started_at"] + slack_ms, 1))
        events.append((r["finished_at"], -1))
    best = current = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        current += delta
        best = max(best, current)
    return best


if __name__ == "__main__":
    unittest.main()
