"""/metrics and /health through the real daemon: per-job series present for every loaded job
before its first run (and gone once a reload removes the job), last run and last success kept
across a restart, next fire as the schedule says, the metrics.max_jobs cap folding the rest
under job="_other", process metrics, /health's workers, queue and state fields; the scrape
checked by `promtool check metrics`, and the example alert rules by `promtool check rules` and
`promtool test rules` (Debian's prometheus package)."""
import json
import math
import os
import re
import shutil
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from api_client import OPENER, ApiTestCase, wait_for
from daemon_site import BIN, PostgresTestCase, Site
from test_state_file import FullDisk

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RULES = os.path.join(ROOT, "examples", "prometheus")
# `make promtool` unpacks it into the build folder (tools/usr/bin) without installing Prometheus.
PROMTOOL = next((p for p in (os.path.join(os.path.dirname(BIN), "tools", "usr", "bin", "promtool"),
                             shutil.which("promtool")) if p and os.access(p, os.X_OK)), None)
OPEN = "  open: [health, metrics]\n"
STATUSES = ("succeeded", "failed", "timed_out", "skipped", "cancelled", "interrupted")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def samples(text):
    """{(name, {label: value}) as a hashable key: float} of a Prometheus text scrape."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(scrape, name, **labels):
    return scrape.get((name, tuple(sorted(labels.items()))))


def jobs_of(scrape, name):
    return {dict(labels).get("job") for (n, labels) in scrape if n == name}


class MetricsTest(ApiTestCase):
    def scrape(self):
        reply = self.api.call("GET", "/metrics", as_=None)
        self.assertEqual(reply.status, 200, reply)
        return reply.text

    def test_every_loaded_job_has_its_series_before_any_run_and_a_removed_one_loses_them(self):
        site = self.make_site(OPEN)
        site.lua_job("hourly", "return true\n", schedule='{cron: "0 * * * *", timezone: UTC}', extra="timeout: 3h\n")
        site.lua_job("idle", "return true\n", extra="enabled: false\n")
        site.lua_job("follower", "return true\n", schedule="{after: {job: hourly}}")
        before = time.time()
        self.start()
        text = self.scrape()
        after = time.time()
        scrape = samples(text)
        jobs = {"hourly", "idle", "follower"}
        for name in ("cronhost_job_last_run_timestamp_seconds", "cronhost_job_last_success_timestamp_seconds",
                     "cronhost_job_next_fire_timestamp_seconds", "cronhost_job_missed_total",
                     "cronhost_run_duration_seconds_count", "cronhost_fire_lateness_seconds_count"):
            self.assertEqual(jobs_of(scrape, name), jobs, name)
        for job in jobs:
            self.assertEqual(value(scrape, "cronhost_job_last_run_timestamp_seconds", job=job), 0)
            self.assertEqual(value(scrape, "cronhost_job_last_success_timestamp_seconds", job=job), 0)
            for status in STATUSES:
                self.assertEqual(value(scrape, "cronhost_runs_total", job=job, status=status), 0, (job, status))
        # The next top of the hour (the scrape may straddle one); none for the disabled job and
        # the one that follows another.
        slots = {math.floor(t / 3600) * 3600 + 3600 for t in (before, after)}
        self.assertIn(value(scrape, "cronhost_job_next_fire_timestamp_seconds", job="hourly"), slots)
        self.assertEqual(value(scrape, "cronhost_job_next_fire_timestamp_seconds", job="idle"), 0)
        self.assertEqual(value(scrape, "cronhost_job_next_fire_timestamp_seconds", job="follower"), 0)
        # Buckets reach the longest timeout (3 h: the 4 h bound), and no further.
        self.assertEqual(value(scrape, "cronhost_run_duration_seconds_bucket", job="hourly", le="14400"), 0)
        self.assertIsNone(value(scrape, "cronhost_run_duration_seconds_bucket", job="hourly", le="28800"))
        self.assertEqual(value(scrape, "cronhost_fire_lateness_seconds_bucket", job="idle", le="14400"), 0)
        self.assertEqual(value(scrape, "cronhost_metrics_jobs_folded"), 0)
        # Process metrics, from /proc.
        self.assertGreater(value(scrape, "process_resident_memory_bytes"), 1e6)
        self.assertGreater(value(scrape, "process_open_fds"), 3)
        self.assertGreaterEqual(value(scrape, "process_max_fds"), value(scrape, "process_open_fds"))
        self.assertGreater(value(scrape, "process_cpu_seconds_total"), 0)
        self.assertLess(abs(value(scrape, "process_start_time_seconds") - before), 5)
        # A reload without idle: its series are gone.
        site.remove_job("idle")
        site.hup()
        scrape = samples(self.scrape())
        self.assertEqual(jobs_of(scrape, "cronhost_runs_total"), {"hourly", "follower"})
        self.assertEqual(jobs_of(scrape, "cronhost_job_next_fire_timestamp_seconds"), {"hourly", "follower"})
        self.assertEqual(site.stop(), 0)

    @unittest.skipUnless(PROMTOOL, "promtool (Debian's prometheus package) is not installed")
    def test_a_real_scrape_passes_promtool_check_metrics(self):
        site = self.make_site(OPEN)
        site.lua_job("greet", "print('hi') return true\n")
        site.lua_job("broken", "error('no')\n")
        self.start()
        self.wait_run(self.trigger("greet"))
        self.wait_run(self.trigger("broken"))
        text = self.scrape()
        self.assertIn('cronhost_runs_total{job="broken",status="failed"} 1\n', text)
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual(site.stop(), 0)

    def test_last_run_and_last_success_survive_a_restart(self):
        site = self.make_site(OPEN)
        site.lua_job("greet", "return true\n")
        # Succeeds on its first run, fails on the next: its last success is older than its last run.
        site.lua_job("flaky", 'if state.get("ran") then error("second time") end state.put("ran", true)\n')
        site.lua_job("broken", "error('no')\n")
        self.start()
        greet = self.wait_run(self.trigger("greet"))
        flaky_ok = self.wait_run(self.trigger("flaky"))
        flaky_failed = self.wait_run(self.trigger("flaky"))
        broken = self.wait_run(self.trigger("broken"))
        self.assertEqual((flaky_ok["status"], flaky_failed["status"]), ("succeeded", "failed"))
        runs = {r["id"]: r for r in site.runs()}

        def ended(run):
            return runs[run["id"]]["finished_at"] / 1000.0

        expected = {
            "greet": (ended(greet), ended(greet)),
            "flaky": (ended(flaky_failed), ended(flaky_ok)),
            "broken": (ended(broken), 0),
        }

        def check(scrape):
            for job, (last_run, last_success) in expected.items():
                self.assertAlmostEqual(value(scrape, "cronhost_job_last_run_timestamp_seconds", job=job), last_run,
                                       places=3, msg=job)
                self.assertAlmostEqual(value(scrape, "cronhost_job_last_success_timestamp_seconds", job=job),
                                       last_success, places=3, msg=job)

        scrape = samples(self.scrape())
        check(scrape)
        self.assertEqual(value(scrape, "cronhost_runs_total", job="flaky", status="succeeded"), 1)
        self.assertEqual(value(scrape, "cronhost_runs_total", job="flaky", status="failed"), 1)
        self.assertEqual(value(scrape, "cronhost_run_duration_seconds_count", job="flaky"), 2)
        self.assertEqual(value(scrape, "cronhost_fire_lateness_seconds_count", job="greet"), 1)
        self.assertEqual(site.stop(), 0)
        self.start()
        scrape = samples(self.scrape())
        check(scrape)  # from the state
        self.assertEqual(value(scrape, "cronhost_runs_total", job="flaky", status="failed"), 0)  # counters restart
        self.assertEqual(site.stop(), 0)

    def test_jobs_beyond_max_jobs_are_folded_under_other(self):
        site = self.make_site(OPEN, config="metrics: {max_jobs: 2}\n")
        for name in ("alpha", "bravo", "charlie", "delta"):
            site.lua_job(name, "return true\n" if name != "delta" else "error('no')\n")
        self.start()
        self.wait_run(self.trigger("charlie"))
        self.wait_run(self.trigger("delta"))
        scrape = samples(self.scrape())
        for name in ("cronhost_runs_total", "cronhost_job_last_run_timestamp_seconds", "cronhost_job_missed_total",
                     "cronhost_run_duration_seconds_bucket"):
            self.assertEqual(jobs_of(scrape, name), {"alpha", "bravo", "_other"}, name)
        self.assertEqual(value(scrape, "cronhost_metrics_jobs_folded"), 2)
        self.assertEqual(value(scrape, "cronhost_runs_total", job="_other", status="succeeded"), 1)
        self.assertEqual(value(scrape, "cronhost_runs_total", job="_other", status="failed"), 1)
        self.assertEqual(value(scrape, "cronhost_run_duration_seconds_count", job="_other"), 2)
        self.assertEqual(value(scrape, "cronhost_runs_total", job="alpha", status="succeeded"), 0)
        # The folded timestamps are the oldest (delta never succeeded: 0).
        self.assertEqual(value(scrape, "cronhost_job_last_success_timestamp_seconds", job="_other"), 0)
        # A reload raising the cap gives every job its own series again.
        with open(os.path.join(site.root, "cronhost.yaml")) as f:
            site.write("cronhost.yaml", f.read().replace("max_jobs: 2", "max_jobs: 0"))
        site.hup()
        scrape = samples(self.scrape())
        self.assertEqual(jobs_of(scrape, "cronhost_runs_total"), {"alpha", "bravo", "charlie", "delta"})
        self.assertEqual(value(scrape, "cronhost_metrics_jobs_folded"), 0)
        self.assertEqual(value(scrape, "cronhost_runs_total", job="delta", status="failed"), 1)
        self.assertEqual(site.stop(), 0)

    def test_health_reports_workers_the_queue_and_the_state(self):
        site = self.make_site(OPEN)  # workers: 2
        site.lua_job("slow", "sleep(3) return true\n", extra="concurrency: allow\n")
        self.start()
        health = self.call("GET", "/health", as_=None)
        self.assertEqual(health["workers"], {"busy": 0, "total": 2})
        self.assertEqual(health["queue_oldest_age_ms"], 0)
        self.assertEqual(health["missed_last_hour"], {"total": 0, "jobs": {}})
        self.assertEqual(health["state"], {"writable": True, "commits_ok": True, "failed_commits": 0,
                                           "writes_waiting": 0, "writes_lost": 0, "error": None})
        runs = [self.trigger("slow") for _ in range(3)]
        busy = wait_for(lambda: (lambda h: h if h["workers"]["busy"] == 2 and h["queued"] == 1 else None)(
            self.call("GET", "/health", as_=None)), timeout=10, what="two runs going and one queued")
        time.sleep(1)
        health = self.call("GET", "/health", as_=None)
        self.assertEqual(health["status"], "ok")  # a queue is not a fault
        self.assertGreaterEqual(health["queue_oldest_age_ms"], 1000)
        self.assertGreaterEqual(health["queue_oldest_age_ms"], busy["queue_oldest_age_ms"])
        scrape = samples(self.scrape())
        self.assertGreaterEqual(value(scrape, "cronhost_queue_oldest_age_seconds"), 1)
        self.assertEqual(value(scrape, "cronhost_workers"), 2)
        for run in runs:
            self.wait_run(run, timeout=20)
        health = self.call("GET", "/health", as_=None)
        self.assertEqual((health["workers"]["busy"], health["queue_oldest_age_ms"]), (0, 0))
        self.assertEqual(site.stop(), 0)


def read_port(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


class HealthTroubleTest:
    """/health turns 503 with its reasons and the state object says which part fails; it
    recovers once the trouble is gone. Mixed into a test class per backend."""

    def start_site(self, site):
        site.write("cronhost.yaml", "workers: 2\nshutdown_grace: 2s\n" + 'server: {listen: "127.0.0.1:0", '
                   f'port_file: "{site.port_file}", open: [health]}}\n')
        site.job("tick", 'schedule: {cron: "* * * * * *"}\nrun: {lua: scripts/tick.lua}\n', "sleep(1.5) return true\n")
        site.start()
        self.addCleanup(site.kill_if_running)
        self.port = wait_for(lambda: read_port(site.port_file), what="the API")
        wait_for(lambda: [r for r in site.runs("tick") if r["status"] == "running"], what="a running run")
        code, body = self.health()
        self.assertEqual(code, 200, body)
        self.assertEqual(body["state"]["error"], None)

    def health(self):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/health")
        try:
            with OPENER.open(request, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def wait_unhealthy(self, what):
        return wait_for(lambda: (lambda h: h if h[0] == 503 else None)(self.health()), timeout=15, what=what)[1]

    def wait_recovered(self):
        body = wait_for(lambda: (lambda h: h[1] if h[0] == 200 else None)(self.health()), timeout=20,
                        what="/health to recover")
        self.assertEqual(body["state"]["error"], None, body)
        self.assertTrue(body["state"]["writable"] and body["state"]["commits_ok"], body)
        self.assertNotIn("problems", body)


class FullDiskHealthTest(HealthTroubleTest, unittest.TestCase):
    def test_a_full_disk_answers_503_naming_the_state_and_its_error(self):
        disk = FullDisk()
        self.addCleanup(disk.unmount)
        site = Site("workers: 2\n")
        self.addCleanup(site.cleanup)
        site.state = os.path.join(disk.root, "state.db")
        self.start_site(site)
        disk.fill()
        body = self.wait_unhealthy("/health to answer 503 on a full disk")
        self.assertEqual(body["status"], "unhealthy")
        self.assertFalse(body["state"]["writable"] and body["state"]["commits_ok"], body)
        self.assertIn("full", body["state"]["error"], body)
        self.assertTrue(any("full" in p for p in body["problems"]), body)
        self.assertEqual(body["workers"]["total"], 2)
        disk.free()
        self.wait_recovered()
        self.assertEqual(site.stop(), 0)


class StoppedPostgresHealthTest(HealthTroubleTest, PostgresTestCase):
    def test_a_stopped_postgresql_answers_503_naming_the_state_and_its_error(self):
        site = Site("workers: 2\n", server=self.server)
        self.addCleanup(site.cleanup)
        self.start_site(site)
        self.server.kill()
        body = self.wait_unhealthy("/health to answer 503 with PostgreSQL stopped")
        self.assertFalse(body["state"]["writable"], body)
        self.assertFalse(body["state_writable"], body)
        self.assertTrue(body["state"]["error"], body)
        self.assertIn(body["state"]["error"], body["problems"])
        self.server.restart()
        self.wait_recovered()
        self.assertEqual(site.stop(), 0)


@unittest.skipUnless(PROMTOOL, "promtool (Debian's prometheus package) is not installed")
class AlertRulesTest(unittest.TestCase):
    """examples/prometheus/cronhost-alerts.yaml is valid, and its unit tests (series fed, alerts
    expected to fire and not to) pass."""

    def promtool(self, *args):
        p = subprocess.run([PROMTOOL, *args], cwd=RULES, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout

    def test_the_rules_check(self):
        out = self.promtool("check", "rules", "cronhost-alerts.yaml")
        self.assertIn("SUCCESS: 7 rules found", out)

    def test_the_rules_fire_on_the_series_their_tests_feed(self):
        self.assertIn("SUCCESS", self.promtool("test", "rules", "cronhost-alerts.test.yaml"))


if __name__ == "__main__":
    unittest.main()
