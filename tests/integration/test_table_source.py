"""Jobs kept in the app's own table: a real `cronhost run` reading a real database while rows
are inserted, changed, disabled and deleted, each change taking effect within one read;
`cronhost validate` (and --connect) on table-source files against SQLite and a real
PostgreSQL; LISTEN/NOTIFY on PostgreSQL, across a backend killed under the listener."""
import json
import os
import sqlite3
import subprocess
import sys
import time
import unittest
import urllib.request

from daemon_site import Site, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import dbserver  # noqa: E402

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


# A table-source file that validate must pass: every placeholder where a row decides the value.
GOOD = """source:
  db: app
  query: "SELECT id, cron_expression, timezone, enabled FROM workflow_schedules"
  every: 30s
job:
  name: "workflow-{{row.id}}"
  schedule: {cron: "{{row.cron_expression}}", timezone: "{{row.timezone}}"}
  enabled: "{{row.enabled}}"
  timeout: "{{row.id}}m"
  run: {http: {url: "https://app.internal/api/workflow/{{row.id}}/execute", method: POST}}
writeback:
  exec: "UPDATE workflow_schedules SET last_run_at = ? WHERE id = ?"
  args: [run.started_at, row.id]
"""


class ValidateTest(unittest.TestCase):
    """`cronhost validate` on table-source files: without a database (the template against the
    job schema, the host config's databases, the writeback's placeholders) and with --connect
    against a SQLite file (the query's columns, each row as the running host would make it)."""

    def setUp(self):
        self.site = Site()
        self.app = os.path.join(self.site.root, "app.db")
        with sqlite3.connect(self.app, isolation_level=None) as db:
            db.execute("CREATE TABLE workflow_schedules (id INTEGER PRIMARY KEY, cron_expression TEXT, "
                       "timezone TEXT, enabled INTEGER, last_run_at TEXT)")
            db.executemany("INSERT INTO workflow_schedules (id, cron_expression, timezone, enabled) VALUES (?, ?, ?, ?)",
                           [(1, "*/5 * * * *", "UTC", 1), (2, "0 9 * * 1-5", "Europe/Berlin", 0),
                            (3, "not a cron", "UTC", 1), (4, "0 * * * *", "Mars/Olympus", 1)])
        self.site.write("cronhost.yaml", f"databases: {{app: {{sqlite: {self.app}}}}}\n")

    def tearDown(self):
        self.site.cleanup()

    def validate(self, yaml, *flags):
        self.site.job("workflows", yaml)
        p = self.site.cli("validate", *flags, "--config", os.path.join(self.site.root, "cronhost.yaml"),
                          os.path.join(self.site.root, "jobs.d"))
        prefix = os.path.join(self.site.root, "jobs.d", "workflows.yaml")
        errors = [line.replace(prefix, "F") for line in p.stderr.splitlines() if ": error: " in line]
        return p.returncode, errors, p.stdout

    def test_a_good_template_passes_without_a_database(self):
        code, errors, out = self.validate(GOOD)
        self.assertEqual((code, errors), (0, []))
        self.assertEqual(out.strip(), "0 jobs OK, 1 table source")

    def test_the_template_shape_is_checked_against_the_job_schema(self):
        code, errors, _ = self.validate(GOOD.replace('timeout: "{{row.id}}m"', "timeout: 5 minutes")
                                        .replace('"{{row.timezone}}"}', "Mars/Olympus}")
                                        .replace('method: POST', 'method: POST, retries: 3')
                                        .replace('  enabled: "{{row.enabled}}"\n', '  enabled: "{{row.enabled}}"\n  max_instances: "two"\n'))
        self.assertEqual(code, 2)
        self.assertEqual(len(errors), 4, errors)
        self.assertEqual(errors[0], 'F:7:57: error: schedule.timezone: unknown time zone "Mars/Olympus", expected an IANA '
                                    'name such as Europe/London or UTC')
        self.assertEqual(errors[1], "F:9:18: error: max_instances: expected a whole number from 1 to 1000, got text")
        self.assertRegex(errors[2], r'^F:10:12: error: timeout: expected a duration .*, got "5 minutes"$')
        self.assertRegex(errors[3], r"^F:11:91: error: unknown key 'retries' in run\.http")
        # A template without run: is a job no row can make.
        code, errors, _ = self.validate(GOOD.replace("  run: {http:", "  runs: {http:"))
        self.assertEqual((code, errors), (2, ["F:6:3: error: job: missing required key run",
                                              "F:10:3: error: unknown key 'runs' in job, did you mean 'run'?"]))

    def test_the_database_and_the_writeback_are_checked_against_the_host_config(self):
        code, errors, _ = self.validate(GOOD.replace("  db: app", "  db: ap"))
        self.assertEqual((code, errors), (2, ["F:2:7: error: source.db: no database named 'ap' in the host config's "
                                              "databases: (it has app), did you mean 'app'?"]))
        code, errors, _ = self.validate(GOOD.replace("args: [run.started_at, row.id]", "args: [run.started_at]"))
        self.assertEqual((code, errors), (2, ['F:12:10: error: writeback.exec: the statement has 2 placeholders (?) '
                                              'but writeback.args gives 1 value']))
        # A ? inside a literal is no placeholder.
        code, errors, _ = self.validate(GOOD.replace("SET last_run_at = ?", "SET last_run_at = '?'")
                                        .replace("args: [run.started_at, row.id]", "args: [row.id]"))
        self.assertEqual((code, errors), (0, []))
        code, errors, _ = self.validate(GOOD.replace("  every: 30s", "  every: 30s\n  listen: workflows_changed"))
        self.assertEqual((code, errors), (2, ["F:5:11: error: source.listen: LISTEN/NOTIFY is PostgreSQL's; the "
                                              "database 'app' is SQLite (leave listen out: every: re-reads it)"]))

    def test_connect_reports_bad_rows_by_key_and_columns_the_query_lacks(self):
        code, errors, out = self.validate(GOOD, "--connect")
        self.assertEqual(code, 2)
        self.assertEqual(len(errors), 2, errors)
        self.assertRegex(errors[0], r"^F:6:3: error: row id=3: schedule\.cron: expected 5 fields ")
        self.assertRegex(errors[1], r'^F:6:3: error: row id=4: schedule\.timezone: unknown time zone "Mars/Olympus"')
        self.assertIn("workflows.yaml: 4 rows, 2 jobs", out)
        # The rows that are good pass.
        with sqlite3.connect(self.app, isolation_level=None) as db:
            db.execute("DELETE FROM workflow_schedules WHERE id > 2")
        self.assertEqual(self.validate(GOOD, "--connect")[:2], (0, []))
        # Every column the file uses must come back from the query: named at its line.
        code, errors, _ = self.validate(GOOD.replace("timezone, enabled FROM", "enabled FROM")
                                        .replace("row.id]", "row.wf_id]"), "--connect")
        self.assertEqual(code, 2)
        self.assertEqual(errors, [
            "F:7:58: error: job.schedule.timezone: the query returns no column 'timezone' (it returns id, "
            "cron_expression, enabled)",
            "F:13:26: error: writeback.args[1]: the query returns no column 'wf_id' (it returns id, "
            "cron_expression, enabled)"])
        # A query the database refuses names the key and the server's message.
        code, errors, _ = self.validate(GOOD.replace("FROM workflow_schedules", "FROM workflow_schedule"), "--connect")
        self.assertEqual(code, 2)
        self.assertEqual(len(errors), 1, errors)
        self.assertRegex(errors[0], r"^F:3:11: error: source\.query: db: app: .*no such table: workflow_schedule")


class PostgresSourceTest(unittest.TestCase):
    """A table source on a real PostgreSQL 15 server (tests/support/dbserver.py)."""

    @classmethod
    def setUpClass(cls):
        cls.server = dbserver.DbServer("postgres")
        cls.server.app_sql("CREATE TABLE workflow_schedules (id int PRIMARY KEY, cron_expression text, timezone text, "
                           "enabled boolean, last_run_at timestamptz)")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.server.app_sql("DELETE FROM workflow_schedules")
        self.site = Site()
        self.site.write("cronhost.yaml", "workers: 4\nshutdown_grace: 2s\ndatabases:\n"
                        f"  app: {{postgresql: '{self.server.url()}', password: '${{env:CRONHOST_TEST_PG_PW}}', "
                        "tls: {mode: disable}}\n")
        self.env = {**os.environ, "CRONHOST_TEST_PG_PW": self.server.password}

    def tearDown(self):
        self.site.cleanup()

    def validate(self, yaml, *flags):
        self.site.job("workflows", yaml)
        p = subprocess.run([os.environ["CRONHOST_BIN"], "validate", *flags, "--config",
                            os.path.join(self.site.root, "cronhost.yaml"), os.path.join(self.site.root, "jobs.d")],
                           capture_output=True, text=True, timeout=60, env=self.env)
        prefix = os.path.join(self.site.root, "jobs.d", "workflows.yaml")
        return p.returncode, [line.replace(prefix, "F") for line in p.stderr.splitlines() if ": error: " in line], p.stdout

    def insert(self, id, enabled="true"):
        self.server.app_sql(f"INSERT INTO workflow_schedules VALUES ({id}, '* * * * * *', 'UTC', {enabled}, NULL)")

    def test_validate_connect_runs_the_query_and_renders_each_row(self):
        self.insert(1)
        self.insert(2, enabled="false")
        self.server.app_sql("INSERT INTO workflow_schedules VALUES (3, '61 * * * *', 'UTC', true, NULL)")
        code, errors, out = self.validate(GOOD.replace("  every: 30s", "  every: 30s\n  listen: workflows_changed"),
                                          "--connect")
        self.assertEqual(code, 2)
        self.assertEqual(len(errors), 1, errors)
        self.assertEqual(errors[0], 'F:7:3: error: row id=3: schedule.cron: minute field "61": 61 is out of range 0-59')
        self.assertIn("workflows.yaml: 3 rows, 2 jobs", out)
        self.server.app_sql("DELETE FROM workflow_schedules WHERE id = 3")
        code, errors, out = self.validate(GOOD, "--connect")
        self.assertEqual((code, errors), (0, []))
        self.assertIn("workflows.yaml: 2 rows, 2 jobs", out)
        # The server's own refusal, with the key it concerns.
        code, errors, _ = self.validate(GOOD.replace("enabled FROM", "enabld FROM"), "--connect")
        self.assertEqual(code, 2)
        self.assertEqual(len(errors), 1, errors)
        self.assertRegex(errors[0], r'^F:3:11: error: source\.query: db: app: .*column "enabld" does not exist')

    def listeners(self):
        return self.server.sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'cronhost listen workflows'")

    def runs(self, job):
        return [r for r in self.site.runs(job) if r["status"] == "succeeded"]

    def test_a_notify_reads_at_once_and_survives_a_killed_backend(self):
        self.site.job("workflows", LISTENING)
        self.site.write("scripts/workflow.lua", "return {}\n")
        self.insert(1)
        self.site.start(env=self.env)
        wait_for(lambda: self.runs("workflow-1"), timeout=10, what="the first row's job")
        wait_for(lambda: len(self.listeners()) == 1, timeout=10, what="the listener's backend")
        # every: 1h, so only the NOTIFY can bring the new row in this soon.
        self.insert(2)
        started = time.monotonic()
        self.server.app_sql("NOTIFY workflows_changed")
        wait_for(lambda: self.runs("workflow-2"), timeout=5, what="the notified row's job")
        self.assertLess(time.monotonic() - started, 4)
        # The listening backend killed: the host connects again and LISTENs again.
        [(pid,)] = self.listeners()
        self.server.sql(f"SELECT pg_terminate_backend({pid})")
        wait_for(lambda: self.listeners() and self.listeners() != [(pid,)], timeout=10, what="a new listener")
        time.sleep(0.5)  # the read made on reconnecting is over: the next row needs the NOTIFY
        self.insert(3)
        self.server.app_sql("SELECT pg_notify('workflows_changed', '3')")
        wait_for(lambda: self.runs("workflow-3"), timeout=5, what="the row notified after the reconnect")
        self.assertIn("a table source's LISTEN connection failed", self.site.log_text())
        self.assertEqual(self.site.stop(), 0)


class MariadbSourceTest(unittest.TestCase):
    """validate on a table source kept in a real MariaDB 10.11: listen: is PostgreSQL's, and
    --connect reads the rows (booleans as 0/1)."""

    def test_listen_is_refused_and_connect_reads_the_rows(self):
        server = dbserver.DbServer("mariadb")
        self.addCleanup(server.stop)
        server.app_sql("CREATE TABLE workflow_schedules (id int PRIMARY KEY, cron_expression text, timezone text, "
                       "enabled boolean, last_run_at datetime)")
        server.app_sql("INSERT INTO workflow_schedules VALUES (1, '0 * * * *', 'UTC', true, NULL), "
                       "(2, '0 9 * * *', 'Asia/Tokyo', false, NULL)")
        site = Site()
        self.addCleanup(site.cleanup)
        site.write("cronhost.yaml", f"databases:\n  app: {{mysql: '{server.url()}', password: '${{env:CRONHOST_TEST_MY_PW}}', "
                   "tls: {mode: disable}}\n")
        env = {**os.environ, "CRONHOST_TEST_MY_PW": server.password}

        def validate(yaml, *flags):
            site.job("workflows", yaml)
            p = subprocess.run([os.environ["CRONHOST_BIN"], "validate", *flags, "--config",
                                os.path.join(site.root, "cronhost.yaml"), os.path.join(site.root, "jobs.d")],
                               capture_output=True, text=True, timeout=60, env=env)
            prefix = os.path.join(site.root, "jobs.d", "workflows.yaml")
            return p.returncode, [line.replace(prefix, "F") for line in p.stderr.splitlines() if ": error: " in line], p.stdout

        code, errors, _ = validate(GOOD.replace("  every: 30s", "  every: 30s\n  listen: workflows_changed"))
        self.assertEqual((code, errors), (2, ["F:5:11: error: source.listen: LISTEN/NOTIFY is PostgreSQL's; the "
                                              "database 'app' is MySQL/MariaDB (leave listen out: every: re-reads it)"]))
        code, errors, out = validate(GOOD, "--connect")
        self.assertEqual((code, errors), (0, []))
        self.assertIn("workflows.yaml: 2 rows, 2 jobs", out)


class ServerLifecycleTest(unittest.TestCase):
    """The same life as TableSourceTest on a table kept in a real PostgreSQL 15 and MariaDB 10.11
    server: rows inserted, disabled, deleted and changed while the host runs change what fires
    within one read, the writeback fills the app's columns, and a server gone keeps the jobs."""

    TABLE = ("CREATE TABLE workflow_schedules (id int PRIMARY KEY, cron_expression text, timezone text, "
             "enabled {boolean}, note text, last_run_at text, last_status text, next_run_at text)")

    def live(self, kind, boolean, url_key):
        server = dbserver.DbServer(kind)
        self.addCleanup(server.stop)
        server.app_sql(self.TABLE.format(boolean=boolean))
        site = Site()
        self.addCleanup(site.cleanup)
        site.write("cronhost.yaml", f"workers: 4\nshutdown_grace: 2s\ndatabases:\n"
                   f"  app: {{{url_key}: '{server.url()}', password: '${{env:CRONHOST_TEST_DB_PW}}', "
                   "tls: {mode: disable}}\n"
                   f'server: {{listen: "127.0.0.1:0", port_file: "{site.port_file}", open: [health]}}\n')
        site.job("workflows", SOURCE)
        site.write("scripts/workflow.lua", SCRIPT)

        def succeeded(job, since_ms=0):
            return [r for r in site.runs(job) if r["scheduled_for"] >= since_ms and r["status"] == "succeeded"]

        def insert(id, cron=EVERY_SECOND):
            server.app_sql(f"INSERT INTO workflow_schedules (id, cron_expression, timezone, enabled, note) "
                           f"VALUES ({id}, '{cron}', 'UTC', true, 'row {id}')")

        insert(1)
        site.start(env={**os.environ, "CRONHOST_TEST_DB_PW": server.password, "CRONHOST_TEST_WF_TOKEN": "wf-token-for-the-server-test"})
        wait_for(lambda: succeeded("workflow-1"), timeout=15, what="the first row's job to run")
        self.assertEqual(json.loads(succeeded("workflow-1")[0]["result"])["note"], "row 1")
        wait_for(lambda: server.app_sql("SELECT last_status FROM workflow_schedules WHERE id = 1") == [("succeeded",)],
                 timeout=5, what="the writeback")
        (last_run_at, next_run_at), = server.app_sql("SELECT last_run_at, next_run_at FROM workflow_schedules WHERE id = 1")
        self.assertRegex(last_run_at, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
        self.assertGreater(next_run_at, last_run_at)

        insert(2)
        wait_for(lambda: succeeded("workflow-2"), timeout=5, what="the inserted row's job")

        server.app_sql("UPDATE workflow_schedules SET enabled = false WHERE id = 1")
        server.app_sql("DELETE FROM workflow_schedules WHERE id = 2")
        time.sleep(2.5)  # one read and a slot already queued
        since = int(time.time() * 1000)
        time.sleep(2.5)
        self.assertEqual((succeeded("workflow-1", since), succeeded("workflow-2", since)), ([], []))

        server.app_sql("UPDATE workflow_schedules SET enabled = true, cron_expression = '*/2 * * * * *' WHERE id = 1")
        since = int(time.time() * 1000) + 1500
        wait_for(lambda: len(succeeded("workflow-1", since)) >= 2, timeout=10, what="the changed row's runs")
        slots = [r["scheduled_for"] for r in succeeded("workflow-1", since)]
        self.assertTrue(all(slot % 2000 == 0 for slot in slots), slots)

        # The server killed: the last good jobs keep firing and /health names the read error.
        server.kill()
        with open(site.port_file) as f:
            port = int(f.read().strip())

        def source_health():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as reply:
                return json.loads(reply.read())["table_sources"]["workflows"]
        wait_for(lambda: source_health()["error"], timeout=10, what="the read error in /health")
        since = int(time.time() * 1000) + 1000
        wait_for(lambda: succeeded("workflow-1", since), timeout=8, what="runs while the server is down")
        self.assertEqual(site.stop(), 0)

    def test_postgresql(self):
        self.live("postgres", "boolean", "postgresql")

    def test_mariadb(self):
        self.live("mariadb", "boolean", "mysql")


LISTENING = """source:
  db: app
  query: "SELECT id, cron_expression, timezone, enabled FROM workflow_schedules"
  every: 1h
  listen: workflows_changed
job:
  name: "workflow-{{row.id}}"
  schedule: {cron: "{{row.cron_expression}}", timezone: "{{row.timezone}}"}
  enabled: "{{row.enabled}}"
  run: {lua: scripts/workflow.lua}
"""


if __name__ == "__main__":
    unittest.main()
