"""The dashboard's look and keyboard, in headless Chromium (tests/browser/screens_test.js):
screenshots of the jobs list and a job page at desktop (1280 px) and phone (390 px) widths,
light and dark, compared with the baselines in tests/browser/baselines/ (pixelmatch, with a
tolerance); plus sorting, search kept in the URL, keyboard navigation, no sideways scroll at
390 px, dark colours, live updates, and the schedule editor's caret and disabled Save.

The data is fixed: a fixed job set, runs written into the state file at fixed times of the
current UTC day, and the browser's clock fixed at 12:00 UTC that day, so every time shown is
the same on every run. UPDATE_BASELINES=1 writes the baselines instead of comparing."""
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
os.environ.setdefault("CRONHOST_BIN", os.path.join(REPO, "build", "cronhost"))

from api_client import ApiClient  # noqa: E402
from daemon_site import Site, wait_for  # noqa: E402

SCREENS_TEST = os.path.join(REPO, "tests", "browser", "screens_test.js")
# The dashboard's files as they are in the tree (server.dashboard_dir): a change to them is
# tested without rebuilding; test_dashboard tests the copy compiled into the binary.
WEB = os.path.join(REPO, "host", "server", "web")
MODULES = os.path.join(REPO, "tests", "browser", "node_modules")
NODE = shutil.which("node")
BROWSER_TIMEOUT_S = 150  # the browser test bounds itself at 120 s
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

# Schedules that fire rarely (daily, weekly, monthly), so the daemon itself starts no run
# during the minute the test takes (a run at 01:30 UTC would change one strip cell).
JOBS = {
    "backup-db": ('{cron: "30 2 * * *", timezone: Europe/Berlin}',
                  "description: Nightly dump of the orders database to the backup bucket\n"
                  "timeout: 30m\nretries: {attempts: 3, backoff: 1m}\n"
                  "notify: {on: [failed, missed], mail: [ops@example.test], no_success_within: 26h}\n"
                  "allow:\n  mail: [\"ops@example.test\"]\n  http: [\"https://backup.example.test/*\"]\n"),
    "report-weekly": ('{cron: "0 6 * * 1", timezone: UTC}', "description: Weekly usage report mailed to the team\n"),
    "sync-users": ('{cron: "15 3 1 * *", timezone: UTC}',
                   "description: Mirrors the user directory into the app\nconcurrency: allow\n"),
    "tidy-tmp": ('{cron: "0 4 * * 0", timezone: UTC}', "description: Removes week-old temporary files\nenabled: false\n"),
    # Its last fired slot is set three days back before a restart: the slots since are missed
    # (catch-up skips them all), so its page lists missed slots; it is not photographed.
    "warm-cache": ('{cron: "45 5 * * *", timezone: America/New_York}', "catchup: {policy: skip}\n"),
}


def seeded_runs(day_start):
    """(job, status, trigger, started_ms, duration_ms, error) at fixed times of the day (UTC): the last
    runs by time are backup-db 09:30, sync-users 09:25, report-weekly 07:00, tidy-tmp 03:00."""
    runs = []
    durations = [4200, 3900, 4400, 5100, 3800, 4000, 9700, 4100, 4300, 3950,
                 4050, 4600, 4250, 3990, 12100, 4150, 4010, 4480, 4330, 4210]
    for i, ms in enumerate(durations):  # every half hour from 00:00; two failures, one timeout
        status = "failed" if i in (6, 14) else "timed_out" if i == 17 else "succeeded"
        runs.append(("backup-db", status, "manual", day_start + i * 30 * 60_000 + 5_000, ms,
                     "pg_dump: connection refused" if status != "succeeded" else None))
    for i in range(8):
        runs.append(("sync-users", "succeeded", "manual", day_start + 40 * 60_000 + i * 75 * 60_000, 800 + 90 * i, None))
    for i in range(3):
        runs.append(("report-weekly", "succeeded" if i != 1 else "failed", "manual",
                     day_start + (1 + 3 * i) * HOUR_MS, 61_000 + 7_000 * i, "SMTP 451" if i == 1 else None))
    runs.append(("tidy-tmp", "cancelled", "manual", day_start + 3 * HOUR_MS, 1_200, None))
    return runs


class DashboardScreensTest(unittest.TestCase):
    def setUp(self):
        self.site = None
        self.token = secrets.token_hex(16)

    def tearDown(self):
        if self.site:
            self.site.cleanup()

    def api(self, method, path, body=None):
        reply = ApiClient(self.base_url, {"test": self.token}).call(method, path, body, as_="test")
        return reply.status, reply.body

    def seed(self, day_start):
        """Writes the fixed runs and their counters into the running daemon's state file."""
        db = sqlite3.connect(self.site.state, timeout=10)
        try:
            with db:
                for job, status, trigger, started, ms, error in seeded_runs(day_start):
                    db.execute("INSERT INTO runs (job, trigger, scheduled_for, attempt, status, queued_at, started_at, "
                               "finished_at, duration_ms, lateness_ms, error, output) "
                               "VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, 0, ?, '')",
                               (job, trigger, started, status, started, started, started + ms, ms, error))
                for job in JOBS:
                    rows = [r for r in seeded_runs(day_start) if r[0] == job]
                    if not rows:
                        continue
                    last = max(rows, key=lambda r: r[3])
                    ok = sum(1 for r in rows if r[1] == "succeeded")
                    db.execute("INSERT INTO job_state (job, runs, successes, failures, last_status, last_finished_at) "
                               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job) DO UPDATE SET runs = excluded.runs, "
                               "successes = excluded.successes, failures = excluded.failures, "
                               "last_status = excluded.last_status, last_finished_at = excluded.last_finished_at",
                               (job, len(rows), ok, len(rows) - ok, last[1], last[3] + last[4]))
                db.execute("UPDATE job_state SET last_slot = ? WHERE job = 'warm-cache'", (day_start - 3 * DAY_MS,))
        finally:
            db.close()

    @unittest.skipIf(NODE is None, "node is not installed: the dashboard's browser test needs it")
    def test_screens_and_keyboard(self):
        for module in ("playwright-core", "pixelmatch", "pngjs"):
            self.assertTrue(os.path.isdir(os.path.join(MODULES, module)),
                            f"{module} is missing: run `cd tests/browser && npm ci --no-audit --no-fund`")
        os.environ["SCREENS_TOKEN"] = self.token
        site = self.site = Site("workers: 2\nshutdown_grace: 2s\n", backend="sqlite")
        port_file = os.path.join(site.root, "port")
        site.write("cronhost.yaml", f"""workers: 2
shutdown_grace: 2s
server:
  listen: 127.0.0.1:0
  port_file: {port_file}
  dashboard_dir: {WEB}
  tokens:
    - {{name: alice, role: admin, token: "${{env:SCREENS_TOKEN}}"}}
""")
        for name, (schedule, extra) in JOBS.items():
            site.job(name, f"schedule: {schedule}\nrun: {{lua: scripts/{name}.lua}}\n{extra}", "return {ok = true}\n")
        read_port = lambda: open(port_file).read().strip() if os.path.exists(port_file) else None  # noqa: E731
        site.start()
        wait_for(read_port, timeout=10, what="the server's port file")
        day_start = int(time.time() * 1000) // DAY_MS * DAY_MS
        # The daemon made the state; the seed goes in while it is stopped, and the restart
        # finds warm-cache's slots since its last fired one missed.
        self.assertEqual(site.stop(), 0)
        self.seed(day_start)
        os.remove(port_file)
        site.start()
        port = wait_for(read_port, timeout=10, what="the server's port file")
        self.base_url = f"http://127.0.0.1:{port}"
        wait_for(lambda: self.api("GET", "/api/jobs")[0] == 200, timeout=10, what="the API")

        # What the browser relies on, from the API itself.
        status, page = self.api("GET", "/api/jobs?sort=-last_run&recent=20")
        self.assertEqual(status, 200, page)
        self.assertEqual([j["name"] for j in page["jobs"]][:3], ["backup-db", "sync-users", "report-weekly"], page)
        backup = page["jobs"][0]
        self.assertEqual(len(backup["recent"]), 20)
        self.assertEqual(backup["last_run"]["duration_ms"], 4210)
        status, error = self.api("POST", "/api/schedule/preview", {"cron": "0 3 * * MOX"})
        self.assertEqual((status, error["error"]["column"]), (400, 8), error)

        shots = os.environ.get("CRONHOST_SCREENSHOTS", os.path.join(REPO, "build", "screenshots"))
        browser = subprocess.run(
            [NODE, SCREENS_TEST, self.base_url, self.token, shots],
            env={**os.environ, "FIXED_NOW": str(day_start + 12 * HOUR_MS)},
            capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S)
        report = f"browser test (exit {browser.returncode}):\n{browser.stdout}\n{browser.stderr[-3000:]}"
        self.assertEqual(browser.returncode, 0, report + "\n--- daemon log:\n" + site.log_text()[-3000:])
        print("\n" + browser.stdout, file=sys.stderr)
        self.assertEqual(site.stop(), 0)


if __name__ == "__main__":
    unittest.main()
