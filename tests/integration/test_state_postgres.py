"""The state in PostgreSQL, through the real daemon and a real PostgreSQL 15 of the test's own:
the state: mapping with its password as a secret, hosts side by side, the server killed
and restarted under a running host, a wrong password."""
import json
import os
import signal
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from daemon_site import BIN, PostgresTestCase, Site, wait_for

EVERY_SECOND = 'schedule: {cron: "* * * * * *"}\n'


class PostgresStateTest(PostgresTestCase):
    def setUp(self):
        self.site = Site(server=self.server)
        self.addCleanup(self.site.cleanup)
        s = self.site
        # The state named in the config, its password from the environment (a secret).
        s.write("cronhost.yaml", "workers: 4\nshutdown_grace: 2s\n"
                f"state: {{postgresql: '{s.state}', password: '${{env:CRONHOST_TEST_STATE_PASSWORD}}'}}\n"
                f'server: {{listen: "127.0.0.1:0", port_file: "{s.port_file}", open: [health]}}\n')
        s.env = {"CRONHOST_TEST_STATE_PASSWORD": self.server.password}

    def start(self):
        """The host from its config alone (no --state)."""
        s = self.site
        s.log = open(s.log_path, "ab")
        s.proc = subprocess.Popen([BIN, "run", "--jobs", os.path.join(s.root, "jobs.d"),
                                   "--config", os.path.join(s.root, "cronhost.yaml")],
                                  stdout=s.log, stderr=s.log, env={**os.environ, **s.env})
        wait_for(lambda: "cronhost started" in s.log_text() or s.proc.poll() is not None, what="the host to start")
        self.assertIsNone(s.proc.poll(), s.log_text())

    def health(self):
        with open(self.site.port_file) as f:
            port = int(f.read().strip())
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_runs_are_kept_in_postgresql_and_a_second_host_runs_beside_the_first(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n",
              "local n = (state.get('n') or 0) + 1 state.put('n', n) return {n = n}\n")
        self.start()
        wait_for(lambda: len([r for r in s.runs("tick") if r["status"] == "succeeded"]) >= 3, what="three runs")
        second = subprocess.Popen([BIN, "run", "--jobs", os.path.join(s.root, "jobs.d"),
                                   "--config", os.path.join(s.root, "cronhost.yaml")],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env={**os.environ, **s.env})
        wait_for(lambda: len(s.query("SELECT id FROM hosts WHERE stopped_at IS NULL")) == 2, what="the second host")
        time.sleep(2)
        second.send_signal(signal.SIGTERM)
        second_log = second.communicate(timeout=30)[0]
        self.assertEqual(second.returncode, 0, second_log)
        self.assertEqual(s.stop(), 0)
        runs = s.runs("tick")
        self.assertEqual([r for r in runs if r["status"] in ("queued", "running")], [])
        slots = [r["scheduled_for"] for r in runs]
        self.assertEqual(len(slots), len(set(slots)))
        state = s.query("SELECT runs, successes FROM job_state WHERE job = 'tick'")[0]
        self.assertEqual(state["runs"], len([r for r in runs if r["started_at"] is not None]))
        kv = s.query("SELECT value FROM kv WHERE job = 'tick' AND key = 'n'")[0]["value"]
        self.assertEqual(int(kv), state["successes"])  # one increment per success, none lost
        log = s.log_text() + second_log
        self.assertIn(s.state, log)  # the URL names the state in the log ...
        self.assertNotIn(self.server.password, log)  # ... never the password

    def test_the_server_killed_and_restarted_under_the_host(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", "sleep(1.5) return {ok = true}\n")
        self.start()
        wait_for(lambda: os.path.exists(s.port_file), what="the API")
        wait_for(lambda: [r for r in s.runs("tick") if r["status"] == "running"], what="a running run")
        self.assertEqual(self.health()[0], 200)
        self.server.kill()
        code, body = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(self.health()), timeout=15,
                              what="/health to answer 503 with the server gone")
        self.assertFalse(body["state_writable"], body)
        time.sleep(2)  # runs finish while nothing can be written
        self.assertIsNone(s.proc.poll(), "the host exited without its database:\n" + s.log_text())
        self.server.restart()
        wait_for(lambda: self.health()[0] == 200, timeout=20, what="/health to recover with the server back")
        restarted = time.time() * 1000
        wait_for(lambda: [r for r in s.runs("tick") if r["scheduled_for"] > restarted and r["status"] == "succeeded"],
                 timeout=15, what="firing to resume")
        self.assertEqual(s.stop(), 0)
        stuck = [r for r in s.runs() if r["status"] in ("queued", "running")]
        self.assertEqual(stuck, [], "writes were dropped: rows left unfinished after a clean stop")
        slots = [r["scheduled_for"] for r in s.runs("tick")]
        self.assertEqual(len(slots), len(set(slots)))

    def test_a_wrong_password_stops_the_start_with_the_reason_and_without_the_password(self):
        s = self.site
        s.env = {"CRONHOST_TEST_STATE_PASSWORD": "not-the-password-42"}
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", "return {}\n")
        p = subprocess.run([BIN, "run", "--jobs", os.path.join(s.root, "jobs.d"),
                            "--config", os.path.join(s.root, "cronhost.yaml")],
                           capture_output=True, text=True, timeout=60, env={**os.environ, **s.env})
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot start", p.stderr)
        self.assertIn("password authentication failed", p.stderr)
        self.assertNotIn("not-the-password-42", p.stderr)


if __name__ == "__main__":
    unittest.main()
