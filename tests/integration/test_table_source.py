"""Jobs kept in the app's own table: a real `cronhost run` reading a real database while rows
are inserted, changed, disabled and deleted, each change taking effect within one read."""
import json
import os
import sqlite3
import time
import unittest
import urllib.request

from daemon_site import Site, wait_for

SOURCE = """source:
  db: app
  query: "SELECT id, cron_expression, timezone, enabled, note FROM workflow_schedules"
  every: 1s
job:
  name: "workflow-{{row.id}}"
  schedule: {cron: "{{row.cron_expression}}", timezone: "{{row.timezone}}"}
  enabled: "{{row.enabled}}"
  run: {lua: scripts/workflow.lua}
  params: {workflow: "{{row.id}}", note: "{{row.note}}", token: "${env:CRONHOST_TEST_WF_TOKEN}"}
writeback:
  exec: "UPDATE workflow_schedules SET last_run_at = ?, last_status = ?, next_run_at = ? WHERE id = ?"
  args: [run.started_at, run.status, job.next_fire, row.id]
"""
# The run says which workflow ran, and what it was given (the token must come out redacted).
SCRIPT = "return {workflow = job.params.workflow, note = job.params.note, token = job.params.token}\n"
EVERY_SECOND = "* * * * * *"
TOKEN = "viewer-token-for-the-table-source-test"


class TableSourceTest(unittest.TestCase):
    def setUp(self):
        self.site = Site()
        self.app = os.path.join(self.site.root, "app.db")
        with self.db() as db:
            db.execute("CREATE TABLE workflow_schedules (id INTEGER PRIMARY KEY, cron_expression TEXT, "
                       "timezone TEXT, enabled INTEGER, note TEXT, last_run_at TEXT, last_status TEXT, next_run_at TEXT)")
        self.site.write("cronhost.yaml", f"workers: 4\nshutdown_grace: 2s\ndatabases: {{app: {{sqlite: {self.app}}}}}\n"
                        f'server: {{listen: "127.0.0.1:0", port_file: "{self.site.port_file}", open: [health], '
                        f'tokens: [{{name: viewer, role: viewer, token: "{TOKEN}"}}]}}\n')
        self.site.job("workflows", SOURCE)
        self.site.write("scripts/workflow.lua", SCRIPT)

    def tearDown(self):
        self.site.cleanup()

    def db(self):
        return sqlite3.connect(self.app, isolation_level=None, timeout=10)

    def runs_since(self, job, since_ms):
        return [r for r in self.site.runs(job) if r["scheduled_for"] >= since_ms and r["status"] == "succeeded"]

    def port(self):
        with open(self.site.port_file) as f:
            return int(f.read().strip())

    def health(self):
        port = self.port()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as reply:
            return json.loads(reply.read())

    def test_rows_inserted_changed_disabled_and_deleted_change_what_fires(self):
        s = self.site
        with self.db() as db:
            db.execute("INSERT INTO workflow_schedules (id, cron_expression, timezone, enabled, note) "
                       "VALUES (1, ?, 'UTC', 1, 'first ${env:HOME}')", (EVERY_SECOND,))
        s.start(env={**os.environ, "CRONHOST_TEST_WF_TOKEN": "wf-secret-token-123"})
        wait_for(lambda: self.runs_since("workflow-1", 0), timeout=15, what="the first row's job to run")
        run = self.runs_since("workflow-1", 0)[0]
        result = json.loads(run["result"])
        self.assertEqual(result["workflow"], 1)  # the whole placeholder keeps the column's type
        self.assertEqual(result["note"], "first ${env:HOME}")  # a row's text is never interpolated
        self.assertEqual(result["token"], "***")  # the template's secret stays secret
        self.assertNotIn("wf-secret-token-123", s.log_text())

        # The writeback keeps the app's own columns current after each run.
        def written():
            with self.db() as db:
                return db.execute("SELECT last_run_at, last_status, next_run_at FROM workflow_schedules "
                                  "WHERE id = 1").fetchone()
        wait_for(lambda: written()[1] == "succeeded", timeout=5, what="the writeback")
        last_run_at, _, next_run_at = written()
        self.assertRegex(last_run_at, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
        self.assertGreater(next_run_at, last_run_at)

        # Inserted: fires within one read (1 s) and its first slot.
        with self.db() as db:
            db.execute("INSERT INTO workflow_schedules (id, cron_expression, timezone, enabled, note) "
                       "VALUES (2, ?, 'Europe/Berlin', 1, 'second')", (EVERY_SECOND,))
        wait_for(lambda: self.runs_since("workflow-2", 0), timeout=5, what="the inserted row's job")

        # A bad row is left out with its key named; the others keep running.
        with self.db() as db:
            db.execute("INSERT INTO workflow_schedules (id, cron_expression, timezone, enabled, note) "
                       "VALUES (3, 'not a cron', 'UTC', 1, 'bad')")
        wait_for(lambda: "row id=3" in s.log_text(), timeout=5, what="the bad row's problem in the log")
        self.assertIn("schedule.cron", s.log_text())
        health = self.health()["table_sources"]["workflows"]
        self.assertTrue(health["ok"])
        self.assertEqual((health["rows"], health["jobs"]), (3, 2))
        self.assertEqual(len(health["rows_left_out"]), 1)

        # Disabled (0/1 as MySQL keeps booleans) and deleted: they stop firing.
        with self.db() as db:
            db.execute("UPDATE workflow_schedules SET enabled = 0 WHERE id = 1")
            db.execute("DELETE FROM workflow_schedules WHERE id = 2")
        time.sleep(2.5)  # one read and a slot already queued
        now_ms = int(time.time() * 1000)
        time.sleep(2.5)
        self.assertEqual(self.runs_since("workflow-1", now_ms), [])
        self.assertEqual(self.runs_since("workflow-2", now_ms), [])
        self.assertNotIn("workflow-2", [j["name"] for j in self.api_jobs()])
        self.assertIn("workflow-1", [j["name"] for j in self.api_jobs()])

        # Changed: the new schedule applies from the next read; enabled again, it runs again.
        with self.db() as db:
            db.execute("UPDATE workflow_schedules SET enabled = 1, cron_expression = '*/2 * * * * *' WHERE id = 1")
        since = int(time.time() * 1000) + 1500
        wait_for(lambda: len(self.runs_since("workflow-1", since)) >= 2, timeout=10, what="the changed row's runs")
        slots = [r["scheduled_for"] for r in self.runs_since("workflow-1", since)]
        self.assertTrue(all(slot % 2000 == 0 for slot in slots), slots)

        # The database going away keeps the last good jobs, and /health says so.
        os.rename(self.app, self.app + ".away")
        wait_for(lambda: self.health()["table_sources"]["workflows"]["error"], timeout=5, what="the read error")
        since = int(time.time() * 1000) + 1000
        wait_for(lambda: self.runs_since("workflow-1", since), timeout=6, what="runs while the database is away")
        self.assertEqual(self.health()["status"], "ok")  # the app's database, not the host, is in trouble
        self.assertEqual(s.stop(), 0)

    def api_jobs(self):
        port = self.port()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/jobs", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=5) as reply:
            body = json.loads(reply.read())
        return body["jobs"] if isinstance(body, dict) else body


if __name__ == "__main__":
    unittest.main()
