"""Webhook notifications end to end with the real binary and a real receiver
(tests/support/webhook_receiver.py, which checks every signature itself):

- `cronhost webhooks test URL` POSTs a sample notification now, signed and shaped (json,
  slack, teams) as the host would, and says what the receiver answered;
- a running host delivers what is in the state's webhook outbox (rows put there as
  notify.queue_webhook puts them), retries, gives up on a 400 and keeps it visible in
  `cronhost webhooks list`.

    cd tests/integration && CRONHOST_BIN=$PWD/../../build/cronhost /usr/bin/python3 -m unittest test_webhooks
(CRONHOST_TEST_STATE=postgres runs the host on a PostgreSQL state.)
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

from daemon_site import BIN, Site, wait_for

SUPPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support")

SECRET = "whsec-test-5d1e0f"


class Receiver:
    """webhook_receiver.py as a child process; its requests as dicts."""

    def __init__(self, secret=SECRET):
        self.dir = tempfile.mkdtemp(prefix="cronhost-webhook-")
        self.log = os.path.join(self.dir, "received.jsonl")
        args = [sys.executable, os.path.join(SUPPORT, "webhook_receiver.py"), "--log", self.log]
        if secret:
            args += ["--secret", secret]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = json.loads(self.proc.stdout.readline())["port"]

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def requests(self):
        if not os.path.exists(self.log):
            return []
        # A last line without its newline is still being written: left for the next look.
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class WebhooksTestCommandTest(unittest.TestCase):
    def setUp(self):
        self.receiver = Receiver()
        self.addCleanup(self.receiver.stop)
        self.site = Site()
        self.addCleanup(self.site.cleanup)

    def send(self, *args, env=None):
        return subprocess.run([BIN, "webhooks", "test", *args, "--config", os.path.join(self.site.root, "cronhost.yaml")],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "WEBHOOK_SECRET": SECRET, **(env or {})})

    def test_a_signed_slack_test_message_reaches_the_receiver_and_verifies(self):
        done = self.send(self.receiver.url("/ok"), "--format", "slack", "--secret-env", "WEBHOOK_SECRET",
                         "-H", "Authorization: Bearer tok-abcdef")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "delivered: HTTP 200, signed\n")
        [got] = self.receiver.requests()
        self.assertIs(got["signature_ok"], True)  # the receiver's own HMAC over "<timestamp>.<body>"
        self.assertLessEqual(abs(int(got["timestamp"]) - time.time()), 60)
        self.assertEqual(got["authorization"], "Bearer tok-abcdef")
        self.assertEqual(got["event"], "failed")
        body = json.loads(got["body"])
        self.assertTrue(body["text"].startswith(":x: Test notification from cronhost on "))
        self.assertEqual(body["blocks"][0]["text"]["text"], "Job cronhost-test failed")

    def test_json_and_teams_shapes(self):
        self.assertEqual(self.send(self.receiver.url("/ok"), "--event", "missed", "--job", "backup").returncode, 0)
        self.assertEqual(self.send(self.receiver.url("/ok"), "--format", "teams", "--event", "recovered").returncode, 0)
        plain, teams = [json.loads(r["body"]) for r in self.receiver.requests()]
        self.assertEqual((plain["event"], plain["job"], plain["test"]), ("missed", "backup", True))
        self.assertIn("slot", plain)
        self.assertNotIn("run", plain)  # a missed slot has no run
        self.assertEqual(plain["summary"].split(": ")[-1], "backup missed")
        card = teams["attachments"][0]["content"]
        self.assertEqual((teams["type"], card["type"]), ("message", "AdaptiveCard"))
        self.assertEqual(card["body"][0]["text"], "Job cronhost-test recovered")
        self.assertEqual(card["body"][0]["color"], "Good")
        self.assertEqual(self.receiver.requests()[1]["signature"], "")  # unsigned without --secret-env

    def test_a_refusal_is_reported_with_its_status_and_no_secret(self):
        refused = self.send(self.receiver.url("/bad"), "-H", "X-Token: tok-very-secret-1")
        self.assertEqual(refused.returncode, 1)
        self.assertIn("not delivered: POST %s: HTTP 400 (receiver says 400)" % self.receiver.url("/bad"), refused.stderr)
        self.assertIn("(the host would give up at once)", refused.stderr)
        busy = self.send(self.receiver.url("/busy"))
        self.assertEqual(busy.returncode, 1)
        self.assertIn("HTTP 429", busy.stderr)
        self.assertIn("(the host would retry)", busy.stderr)
        away = self.send(self.receiver.url("/away"))
        self.assertEqual(away.returncode, 1)
        self.assertIn("a redirect to another host (http://127.0.0.2:", away.stderr)
        self.assertEqual([r["path"] for r in self.receiver.requests()], ["/bad", "/busy", "/away"])
        nowhere = self.send("http://127.0.0.1:1/hooks/tok-very-secret-1", "-H", "X-Token: tok-very-secret-1")
        self.assertEqual(nowhere.returncode, 1)
        self.assertIn("(the host would retry)", nowhere.stderr)
        self.assertNotIn("tok-very-secret-1", refused.stderr + nowhere.stderr)

    def test_a_wrong_format_or_url_is_a_usage_error(self):
        wrong = self.send(self.receiver.url("/ok"), "--format", "discord")
        self.assertEqual(wrong.returncode, 2)
        self.assertIn("discord", wrong.stderr)
        ftp = self.send("ftp://example.com/x")
        self.assertEqual(ftp.returncode, 1)
        no_secret = self.send(self.receiver.url("/ok"), "--secret-env", "NOT_SET_ANYWHERE")
        self.assertEqual(no_secret.returncode, 2)
        self.assertIn("--secret-env NOT_SET_ANYWHERE: the variable is not set or empty", no_secret.stderr)
        self.assertEqual(self.receiver.requests(), [])


class HostDeliversTheOutboxTest(unittest.TestCase):
    """The host's webhook deliverer, on the backend CRONHOST_TEST_STATE names."""

    def setUp(self):
        self.receiver = Receiver()
        self.addCleanup(self.receiver.stop)
        self.site = Site(config="workers: 2\nshutdown_grace: 2s\n"
                                "webhook_delivery: {attempts: 3, backoff: 200ms, max_backoff: 1s, timeout: 5s}\n")
        self.addCleanup(self.site.cleanup)

    def queue(self, path, event="failed", secret=SECRET):
        """A row as notify.queue_webhook writes it (json format: the body is the event)."""
        now = int(time.time() * 1000)
        body = json.dumps({"event": event, "job": "backup", "host": "h", "summary": "backup " + event})
        target = json.dumps({"url": self.receiver.url(path), "format": "json", "secret": secret, "headers": [],
                             "secret_values": []})
        def literal(v):
            return str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'"
        values = ("backup", event, "json", body, target, self.receiver.url(path), 0, now, now)
        sql = ("INSERT INTO webhook_outbox (job, event, format, body, target, url, attempts, next_attempt_at, "
               "created_at) VALUES (%s)" % ", ".join(literal(v) for v in values))
        if self.site.backend == "postgres":
            self.site.server.app_sql(sql, database=self.site.database)
        else:
            db = sqlite3.connect(self.site.state, timeout=10)
            with db:
                db.execute(sql)
            db.close()

    def test_the_host_delivers_retries_and_gives_up_visibly(self):
        s = self.site
        s.start()  # creates the state, with its webhook outbox
        self.queue("/ok")
        self.queue("/flaky/1", event="timed_out")
        self.queue("/bad")
        wait_for(lambda: len(self.receiver.requests()) >= 4, timeout=20, what="four requests")
        wait_for(lambda: "webhook given up" in s.log_text() and s.log_text().count("webhook delivered") >= 2,
                 timeout=20, what="the outcomes in the log")
        by_path = {}
        for r in self.receiver.requests():
            by_path.setdefault(r["path"], []).append(r)
        self.assertEqual([r["status"] for r in by_path["/flaky/1"]], [500, 200])  # retried after a 500
        self.assertEqual(len(by_path["/ok"]), 1)
        self.assertEqual(len(by_path["/bad"]), 1)  # a 400 is not retried
        self.assertTrue(all(r["signature_ok"] for r in self.receiver.requests()))

        listed = s.cli("webhooks", "list", "--json", "--state", s.state,
                       "--config", os.path.join(s.root, "cronhost.yaml"))
        self.assertEqual(listed.returncode, 0, listed.stderr)
        [failed] = json.loads(listed.stdout)["webhooks"]  # the delivered ones left the outbox
        self.assertEqual((failed["state"], failed["last_status"], failed["attempts"]), ("failed", 400, 1))
        self.assertEqual(failed["url"], self.receiver.url("/bad"))
        self.assertEqual(failed["last_error"], "POST %s: HTTP 400 (receiver says 400)" % self.receiver.url("/bad"))
        table = s.cli("webhooks", "list", "--failed", "--state", s.state, "--config", os.path.join(s.root, "cronhost.yaml"))
        self.assertIn("backup", table.stdout)
        self.assertIn("HTTP 400", table.stdout)
        log = s.log_text()
        self.assertIn("webhook not delivered, will retry", log)
        self.assertNotIn(SECRET, log)
        self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
