"""`cronhost migrate-state` end to end: a real `cronhost run` records runs in its SQLite state
file, stops, and the real binary copies the file into a real PostgreSQL 15
(tests/support/dbserver.py), where psql shows the same runs and key-value state. A running
host, a wrong password, a password in the URL and a second copy are refused.

    cd tests/integration && CRONHOST_BIN=$PWD/../../build/cronhost /usr/bin/python3 -m unittest test_migrate_state
"""
import hashlib
import itertools
import os
import subprocess
import unittest

from daemon_site import BIN, PostgresTestCase, Site, wait_for


EVERY_SECOND = 'schedule: {cron: "* * * * * *"}\n'
# Output with a tab, a newline, a backslash and text beyond ASCII, which COPY must escape.
TICK = ("local n = (state.get('n') or 0) + 1 state.put('n', n)\n"
        "print('tick\\t' .. n .. '\\nback\\\\slash é') return {n = n}\n")
DATABASES = itertools.count(1)


class MigrateStateTest(PostgresTestCase):
    def setUp(self):
        self.site = Site()
        self.addCleanup(self.site.cleanup)
        self.database = "migrated_%d_%d" % (os.getpid(), next(DATABASES))
        self.server.sql("CREATE DATABASE %s OWNER %s" % (self.database, self.server.user))
        self.url = self.server.url().rsplit("/", 1)[0] + "/" + self.database
        self.password_file = os.path.join(self.site.root, "pg.password")
        with open(self.password_file, "w") as f:
            f.write(self.server.password + "\n")

    def migrate(self, *args, env_password=None):
        """Runs the binary; PGPASSWORD only when env_password is given."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if env_password is not None:
            env["PGPASSWORD"] = env_password
        return subprocess.run([BIN, "migrate-state", *args], capture_output=True, text=True, timeout=60, env=env)

    def pg(self, statement):
        return self.server.app_sql(statement, database=self.database)

    def test_runs_a_daemon_recorded_are_in_postgresql_after_migrate_state(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", TICK)
        s.start()
        wait_for(lambda: len([r for r in s.runs("tick") if r["status"] == "succeeded"]) >= 3, timeout=20,
                 what="three runs")
        busy = self.migrate(s.state, self.url, "--password-file", self.password_file)
        self.assertEqual(busy.returncode, 1, busy.stderr)
        self.assertIn("another cronhost (pid %d) is using the state file %s" % (s.proc.pid, s.state), busy.stderr)
        self.assertIn("stop it before copying the state", busy.stderr)
        self.assertEqual(s.stop(), 0)

        done = self.migrate(s.state, self.url, "--password-file", self.password_file)
        self.assertEqual(done.returncode, 0, done.stderr)
        runs = s.runs()
        kv = s.query("SELECT job, key, value FROM kv")
        lines = done.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["TABLE", "ROWS"])
        counts = {line.split()[0]: int(line.split()[1]) for line in lines[1:-1]}
        self.assertEqual(list(counts), ["job_state", "runs", "kv", "approvals", "events", "outbox", "registered_jobs",
                                        "audit_log", "notifications", "webhook_outbox"])
        self.assertEqual((counts["runs"], counts["kv"], counts["job_state"]), (len(runs), 1, 1))
        self.assertRegex(lines[-1],
                         r"^copied %d rows from %s to %s in \d+\.\d\d s$" % (sum(counts.values()), s.state, self.url))
        self.assertNotIn(self.server.password, done.stdout + done.stderr)

        # psql, as the app user, shows the runs as the file has them (output compared by hash:
        # psql's unaligned rows cannot carry its tabs and newlines).
        shown = self.pg("SELECT id, job, trigger, status, result, output_truncated, md5(output) FROM runs ORDER BY id")
        expected = [(str(r["id"]), r["job"], r["trigger"], r["status"], r["result"] or "",
                     "t" if r["output_truncated"] else "f",
                     hashlib.md5(r["output"].encode()).hexdigest() if r["output"] is not None else "")
                    for r in runs]
        self.assertEqual(shown, expected)
        self.assertGreaterEqual(len([r for r in shown if r[3] == "succeeded"]), 3)
        self.assertIn("\t", runs[0]["output"])  # the odd text was really there to copy
        self.assertEqual(self.pg("SELECT job, key, value FROM kv"), [(r["job"], r["key"], r["value"]) for r in kv])
        # A host on the database would go on from the next id.
        next_id = self.pg("INSERT INTO runs (job, trigger, scheduled_for, status) VALUES ('x', 'manual', 1, 'queued') "
                          "RETURNING id")
        self.assertEqual(next_id, [(str(runs[-1]["id"] + 1),)])

        again = self.migrate(s.state, self.url, "--password-file", self.password_file)
        self.assertEqual(again.returncode, 1)
        self.assertIn("the database already holds rows in table job_state", again.stderr)

    def test_a_host_on_the_migrated_database_goes_on_where_the_file_left_off(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", TICK)
        s.start()
        wait_for(lambda: len([r for r in s.runs("tick") if r["status"] == "succeeded"]) >= 2, timeout=20,
                 what="two runs")
        self.assertEqual(s.stop(), 0)
        before = s.runs("tick")
        n_before = int(s.query("SELECT value FROM kv WHERE job = 'tick' AND key = 'n'")[0]["value"])
        done = self.migrate(s.state, self.url, "--password-file", self.password_file)
        self.assertEqual(done.returncode, 0, done.stderr)

        # The same site, now on PostgreSQL (the password from PGPASSWORD).
        s.state, s.backend, s.server, s.database = self.url, "postgres", self.server, self.database
        s.env = {"PGPASSWORD": self.server.password}
        s.start()
        wait_for(lambda: len(s.runs("tick")) >= len(before) + 2, timeout=20, what="runs on PostgreSQL")
        self.assertEqual(s.stop(), 0)
        after = s.runs("tick")
        # History kept as it was (PostgreSQL adds runs.host, which the file never had).
        self.assertEqual([{k: r[k] for k in before[0]} for r in after[:len(before)]], before)
        slots = [r["scheduled_for"] for r in after]
        self.assertEqual(len(slots), len(set(slots)), "a slot ran twice")
        self.assertGreater(min(r["id"] for r in after[len(before):]), max(r["id"] for r in before))
        n_after = int(s.query("SELECT value FROM kv WHERE job = 'tick' AND key = 'n'")[0]["value"])
        succeeded = len([r for r in after[len(before):] if r["status"] == "succeeded"])
        self.assertEqual(n_after, n_before + succeeded)  # the counter went on from the file's value
        history = s.cli("history", "tick", "--state", self.url, "--json")
        self.assertEqual(history.returncode, 0, history.stderr)
        self.assertIn('"id": %d' % before[0]["id"], history.stdout)

    def test_wrong_password_and_password_in_the_url_are_refused_without_showing_it(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", TICK)
        s.start()
        wait_for(lambda: s.runs("tick"), timeout=20, what="a run")
        self.assertEqual(s.stop(), 0)

        wrong = "wrong-%s" % self.database
        refused = self.migrate(s.state, self.url, env_password=wrong)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("cronhost: error: cannot connect to %s: " % self.url, refused.stderr)
        self.assertIn("password authentication failed", refused.stderr)
        self.assertNotIn(wrong, refused.stdout + refused.stderr)

        with_password = self.url.replace("://%s@" % self.server.user, "://%s:%s@" % (self.server.user, wrong))
        in_url = self.migrate(s.state, with_password)
        self.assertEqual(in_url.returncode, 2)
        self.assertIn("the TO URL holds a password", in_url.stderr)
        self.assertNotIn(wrong, in_url.stdout + in_url.stderr)

        not_pg = self.migrate(s.state, "mysql://root@127.0.0.1/app")
        self.assertEqual(not_pg.returncode, 2)
        self.assertIn("expected a PostgreSQL URL", not_pg.stderr)
        # Nothing reached the database; the good password (from PGPASSWORD) then copies.
        self.assertEqual(self.pg("SELECT to_regclass('runs') IS NULL"), [("t",)])
        good = self.migrate(s.state, self.url, env_password=self.server.password)
        self.assertEqual(good.returncode, 0, good.stderr)


if __name__ == "__main__":
    unittest.main()
