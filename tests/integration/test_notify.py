"""notify: through the real daemon: mail through a real SMTP server (aiosmtpd), job channels,
what is recorded in the state (SQLite or, with CRONHOST_TEST_STATE=postgres, PostgreSQL) and
served at /api/jobs/NAME/notifications, missed slots (host down, late start), the dead-man
alarm, allowlists at load, secrets kept out of logs and dry runs."""
import hashlib
import hmac
import json
import os
import subprocess
import time

from api_client import ApiTestCase
from api_site import services, wait_for

# Fails its first four runs (two attempts each for two triggers), then succeeds.
FLAKY = """
local n = (state.get('n') or 0) + 1
state.put('n', n)
if n <= 4 then error('disk full on run ' .. n) end
return {n = n}
"""
# Fired by a notification's job channel (its run records the event).
PAGER = "return {paged = true}\n"


class NotifyTest(ApiTestCase):
    def smtp_site(self, config="", server_extra=""):
        self.smtp = self.serve(services.SmtpSink(services.tempfile.mkdtemp()))
        return self.make_site(server_extra=server_extra,
                              config="smtp: {host: 127.0.0.1, port: %d, tls: none, from: 'Cron <cron@acme.test>'}\n%s"
                              % (self.smtp.port, config))

    def notifications(self, job, event=None):
        path = f"/api/jobs/{job}/notifications" + (f"?event={event}" if event else "")
        return self.call("GET", path)["notifications"]

    def kv(self, job, key):
        rows = self.site.query("SELECT value FROM kv WHERE job = ? AND key = ?", job, key)
        return json.loads(rows[0]["value"]) if rows else None

    def test_failed_after_the_last_attempt_repeat_every_then_recovered(self):
        site = self.smtp_site(server_extra="  public_url: https://cron.acme.test/\n")
        site.lua_job("flaky", FLAKY, allow="  mail: ['*@acme.test']\n",
                     extra="retries: {attempts: 2, backoff: 1s}\n"
                           "notify: {mail: [ops@acme.test], job: pager, repeat_every: 1h}\n")
        site.lua_job("pager", PAGER, schedule="{at: '2099-01-01T00:00:00Z'}")
        self.start()

        first = self.trigger("flaky")
        self.wait_run(first)
        # Attempt 1 failed with a retry pending: nothing yet.
        time.sleep(0.3)
        self.assertEqual(self.notifications("flaky"), [])
        retry = wait_for(lambda: [r for r in self.site.runs("flaky") if r["attempt"] == 2
                                  and r["status"] == "failed"], timeout=10, what="the second attempt")[0]
        failed = wait_for(lambda: self.notifications("flaky"), what="the failed notification")
        self.assertEqual(len(failed), 1, failed)
        self.assertEqual(failed[0]["event"], "failed")
        self.assertEqual(failed[0]["run_id"], retry["id"])
        self.assertEqual(failed[0]["channels"], ["mail", "job:pager"])
        self.assertFalse(failed[0]["suppressed"])
        mail = self.smtp.wait_messages(1)[0]
        self.assertEqual(mail.envelope["rcpt_tos"], ["ops@acme.test"])
        self.assertIn("flaky failed on", mail.message["Subject"])
        body = mail.message.get_payload(decode=True).decode() if not mail.message.is_multipart() else \
            mail.message.get_payload(0).get_payload(decode=True).decode()
        document = json.loads(body[body.index("{"):])
        self.assertEqual(document["event"], "failed")
        self.assertEqual(document["job"], "flaky")
        self.assertEqual(document["run"]["attempt"], 2)
        self.assertEqual(document["run"]["first_run_id"], first)
        self.assertIn("disk full on run 2", document["run"]["error"])
        self.assertEqual(document["failures"], 1)
        self.assertIsNone(document["last_success_at"])
        self.assertEqual(document["url"], f"https://cron.acme.test/#/runs/{retry['id']}")
        # The job channel fired pager with the same document.
        pager_run = wait_for(lambda: self.site.runs("pager"), what="pager's run")[0]
        self.assertEqual(pager_run["trigger"], "event", pager_run)
        paged = json.loads(pager_run["event"])
        self.assertEqual(paged["name"], "notify.failed")
        self.assertEqual(paged["payload"]["run"]["id"], retry["id"])

        # Failing again within repeat_every: recorded, suppressed, not sent.
        second = self.trigger("flaky")
        self.wait_run(second)
        wait_for(lambda: len(self.notifications("flaky")) == 2, timeout=10, what="the second failure")
        newest = self.notifications("flaky")[0]
        self.assertEqual(newest["event"], "failed")
        self.assertTrue(newest["suppressed"])
        self.assertEqual(newest["channels"], [])

        # A success after them: recovered, always sent.
        third = self.trigger("flaky")
        self.assertEqual(self.wait_run(third)["status"], "succeeded")
        wait_for(lambda: len(self.notifications("flaky")) == 3, what="the recovery")
        recovered = self.notifications("flaky", "recovered")
        self.assertEqual(len(recovered), 1)
        self.assertEqual(recovered[0]["run_id"], third)
        mails = self.smtp.wait_messages(2)
        self.assertEqual(len(mails), 2)
        self.assertIn("flaky recovered on", mails[1].message["Subject"])
        self.assertIn("after 2 failed runs", mails[1].message["Subject"])
        # A restart neither resends nor forgets.
        self.site.stop()
        self.start()
        time.sleep(1)
        self.assertEqual(len(self.notifications("flaky")), 3)
        self.assertEqual(len(self.smtp.messages()), 2)

    def test_webhook_posts_the_signed_event_to_a_real_receiver(self):
        site = self.smtp_site()
        receiver = self.serve(services.HttpReceiver(services.tempfile.mkdtemp()))
        site.lua_job("etl", "error('no rows')\n", allow="  http: ['%s/hooks/*']\n" % receiver.url,
                     extra="notify:\n  webhook: {url: '%s/hooks/etl', secret: '${env:HOOK_SECRET}',"
                           " headers: {X-Team: data}}\n" % receiver.url)
        site.env["HOOK_SECRET"] = "hook-key-314"
        self.start()
        run = self.trigger("etl")
        self.wait_run(run)
        request = receiver.wait_requests(1)[0]
        self.assertEqual(request["method"], "POST")
        self.assertEqual(request["path"], "/hooks/etl")
        headers = request["headers"]
        self.assertEqual(headers["x-team"], "data")
        expected = "sha256=" + hmac.new(b"hook-key-314", (headers["x-cronhost-timestamp"] + "." + request["body"]).encode(),
                                        hashlib.sha256).hexdigest()
        self.assertEqual(headers["x-cronhost-signature"], expected)
        document = json.loads(request["body"])
        self.assertEqual(document["event"], "failed")
        self.assertEqual(document["job"], "etl")
        self.assertEqual(document["run"]["id"], run)
        self.assertEqual(self.notifications("etl")[0]["channels"], ["webhook"])
        self.site.stop()
        self.assertNotIn("hook-key-314", self.site.log_text())

    def test_timed_out(self):
        site = self.smtp_site()
        site.lua_job("slow", "sleep(5) return 1\n", allow="  mail: true\n",
                     extra="timeout: 1s\nnotify: {mail: ops@acme.test, on: [timed_out]}\n")
        self.start()
        run = self.trigger("slow")
        self.assertEqual(self.wait_run(run)["status"], "timed_out")
        sent = wait_for(lambda: self.notifications("slow"), what="the timed_out notification")
        self.assertEqual([n["event"] for n in sent], ["timed_out"])
        mail = self.smtp.wait_messages(1)[0]
        self.assertIn("slow timed out on", mail.message["Subject"])
        self.assertIn("timeout 1s", mail.message["Subject"])

    def test_missed_while_the_host_was_down(self):
        site = self.smtp_site(config="notify: {mail: ops@acme.test, missed_grace: 1s}\n")
        site.job("tick", 'schedule: {cron: "* * * * * *"}\nrun: {lua: scripts/tick.lua}\ncatchup: {policy: latest}\n',
                 "return 1\n")
        self.start()
        wait_for(lambda: len(self.site.runs("tick")) >= 2, what="two runs")
        self.site.stop()
        last = max(r["scheduled_for"] for r in self.site.runs("tick"))
        time.sleep(4)
        self.start()
        missed = wait_for(lambda: self.notifications("tick", "missed"), what="missed slots")
        slots = sorted(n["slot"] for n in missed)
        # Dropped by catch-up (latest runs only the newest): about three slots, each after the
        # last one that ran, each recorded once; the first is sent, the rest held back.
        self.assertGreaterEqual(len(missed), 2, missed)
        self.assertEqual(len(slots), len(set(slots)))
        last_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last / 1000))
        self.assertTrue(all(slot > last_iso for slot in slots), (last_iso, slots))
        self.assertEqual(sum(not n["suppressed"] for n in missed), 1, missed)
        mail = self.smtp.wait_messages(1)[0]
        self.assertIn("tick missed its slot at", mail.message["Subject"])
        self.assertIn("(it did not run)", mail.message["Subject"])
        self.assertIn("slots missed", self.site.log_text())

    def test_missed_by_a_late_start(self):
        site = self.smtp_site(config="notify: {mail: ops@acme.test, missed_grace: 1s}\n")
        # One worker, held by hog: late's next slot waits for it, then starts late.
        with open(os.path.join(site.root, "cronhost.yaml")) as f:
            site.write("cronhost.yaml", f.read().replace("workers: 2", "workers: 1"))
        site.lua_job("hog", "sleep(3) return 1\n")
        site.job("late", 'schedule: {every: 2s}\nrun: {lua: scripts/late.lua}\n', "return 1\n")
        self.start()
        wait_for(lambda: self.site.runs("late"), what="late's first run")
        self.trigger("hog")
        missed = wait_for(lambda: self.notifications("late", "missed"), timeout=10, what="a late start")
        self.assertIn("late", missed[0]["summary"])
        self.assertRegex(missed[0]["summary"], r"^late missed its slot at \S+ on .* \(started [0-9]+s[0-9ms]* late\)$")
        self.assertFalse(missed[0]["suppressed"])
        self.smtp.wait_messages(1)

    def test_dead_man_fires_once_per_period(self):
        site = self.smtp_site()
        site.lua_job("backup", "return 1\n", schedule="{at: '2099-01-01T00:00:00Z'}", allow="  mail: ['*@acme.test']\n",
                     extra="notify: {mail: ops@acme.test, no_success_within: 2s}\n")
        self.start()
        started = time.monotonic()
        first = wait_for(lambda: self.notifications("backup"), timeout=5, what="the dead-man alarm")
        self.assertEqual(first[0]["event"], "no_success_within")
        self.assertIn("backup has not succeeded within 2s on", first[0]["summary"])
        self.assertIn("(no success yet)", first[0]["summary"])
        self.assertGreaterEqual(time.monotonic() - started, 1.5)
        # Checked every 250 ms: still one, until the next period.
        time.sleep(1.0)
        self.assertEqual(len(self.notifications("backup")), 1)
        wait_for(lambda: len(self.notifications("backup")) == 2, timeout=5, what="the next period's alarm")
        self.assertEqual(len(self.smtp.wait_messages(2)), 2)
        # A success resets it: no alarm within the period after it.
        run = self.trigger("backup")
        self.assertEqual(self.wait_run(run)["status"], "succeeded")
        count = len(self.notifications("backup"))
        time.sleep(1.2)
        self.assertEqual(len(self.notifications("backup")), count)

    def test_allowlists_at_load_name_the_file_key_and_value(self):
        site = self.make_site()
        site.job("leaky", "schedule: {every: 1h}\nrun: {lua: scripts/leaky.lua}\n"
                          "allow: {mail: ['*@acme.test'], http: ['https://hooks.acme.test/*']}\n"
                          "notify:\n  mail: [ops@acme.test, boss@elsewhere.test]\n"
                          "  webhook: [{url: 'https://evil.test/hook'}, {url: '${env:HOOK_URL}'}]\n",
                 "return 1\n")
        env = {**os.environ, "HOOK_URL": "https://secret.test/T000/B000/xyzzy"}
        p = subprocess.run([self.bin(), "validate", "--jobs", os.path.join(site.root, "jobs.d"),
                            "--config", os.path.join(site.root, "cronhost.yaml")],
                           capture_output=True, text=True, env=env, timeout=30)
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("leaky.yaml:", out)
        self.assertRegex(out, r"notify\.mail\[1\]: .*boss@elsewhere\.test.*allow\.mail")
        self.assertRegex(out, r"notify\.webhook\[0\]\.url: .*https://evil\.test/hook.*allow\.http")
        self.assertRegex(out, r"notify\.webhook\[1\]\.url: the URL \(from a secret\) is not allowed")
        self.assertNotIn("xyzzy", out)
        # A webhook secret written in plain text is refused too.
        site.job("leaky", "schedule: {every: 1h}\nrun: {lua: scripts/leaky.lua}\nallow: {http: ['https://hooks.acme.test/*']}\n"
                          "notify: {webhook: {url: 'https://hooks.acme.test/x', secret: plain-text-key}}\n")
        p = subprocess.run([self.bin(), "validate", "--jobs", os.path.join(site.root, "jobs.d"),
                            "--config", os.path.join(site.root, "cronhost.yaml")],
                           capture_output=True, text=True, timeout=30)
        self.assertRegex(p.stdout + p.stderr, r"notify\.webhook\.secret: is written in plain text")

    def test_dry_run_shows_what_would_be_sent_with_secrets_redacted(self):
        site = self.smtp_site(config="notify: {mail: oncall@acme.test}\n")
        site.lua_job("export", "error('upload refused for token ' .. job.params.token)\n",
                     allow="  mail: ['*@acme.test']\n  http: ['https://hooks.acme.test/*']\n",
                     extra="params: {token: '${env:EXPORT_TOKEN}'}\n"
                           "notify:\n  mail: ops@acme.test\n  job: pager\n"
                           "  webhook: {url: '${env:HOOK_URL}', format: slack, secret: '${env:HOOK_SECRET}',"
                           " headers: {X-Key: '${env:HOOK_HEADER}'}}\n")
        secrets = {"EXPORT_TOKEN": "tok-4242-secret", "HOOK_URL": "https://hooks.acme.test/T0/B0/hush",
                   "HOOK_SECRET": "hmac-key-77", "HOOK_HEADER": "hdr-value-99"}
        site.env.update(secrets)
        outcome = site.dry_run("export")
        self.assertEqual(outcome["status"], "failed")
        planned = outcome["notification"]
        self.assertEqual(planned["event"], "failed")
        channels = {c["channel"]: c for c in planned["channels"]}
        self.assertEqual(channels["mail"]["to"], ["oncall@acme.test", "ops@acme.test"])
        self.assertEqual(channels["webhook"]["url"], "***")
        self.assertEqual(channels["webhook"]["format"], "slack")
        self.assertTrue(channels["webhook"]["signed"])
        self.assertEqual(channels["webhook"]["headers"], {"X-Key": "***"})
        self.assertEqual(channels["job"]["job"], "pager")
        self.assertIn("upload refused for token ***", planned["document"]["run"]["error"])
        text = json.dumps(outcome)
        for value in secrets.values():
            self.assertNotIn(value, text)
        # The text form too.
        p = site.cli("dry-run", "export", "--jobs", os.path.join(site.root, "jobs.d"),
                     "--config", os.path.join(site.root, "cronhost.yaml"))
        self.assertIn("--- notification (failed; not sent)", p.stdout)
        self.assertIn("mail      to oncall@acme.test, ops@acme.test", p.stdout)
        self.assertIn("webhook   POST *** (slack, signed)", p.stdout)
        for value in secrets.values():
            self.assertNotIn(value, p.stdout + p.stderr)
        # Live: the failure is sent, and no secret reaches the log or the API.
        site.lua_job("pager", PAGER, schedule="{at: '2099-01-01T00:00:00Z'}")
        self.start()
        run = self.trigger("export")
        self.wait_run(run)
        wait_for(lambda: self.notifications("export"), what="the failed notification")
        self.smtp.wait_messages(1)
        site.stop()
        everything = site.log_text() + json.dumps(self.notifications_offline("export"))
        for value in secrets.values():
            self.assertNotIn(value, everything)

    def notifications_offline(self, job):
        return self.site.query("SELECT * FROM notifications WHERE job = ?", job)

    def bin(self):
        from daemon_site import BIN
        return BIN


if __name__ == "__main__":
    import unittest
    unittest.main()
