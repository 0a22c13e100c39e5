"""mail.send through the real daemon to a real SMTP server (aiosmtpd): delivery with AUTH
and attachments, the outbox retrying while the relay is down, the dead-letter file."""
import json
import os
import time
import unittest

from api_site import ApiSite, services, wait_for

SEND = """
local r, err = mail.send{
  to = {"ops@acme.test", "Dev Team <dev@acme.test>"}, cc = "lead@acme.test", bcc = "audit@acme.test",
  subject = "Backup done ✓", text = "Rows: 42\\n" .. string.rep("long line ", 300), html = "<p>Rows: <b>42</b></p>",
  attachments = {{path = job.params.dir .. "/blob.bin"}, {name = "report.csv", content = "a,b\\n1,2\\n"}},
}
if not r then error(err) end
return r
"""


class MailTest(unittest.TestCase):
    def setUp(self):
        self.site = None

    def tearDown(self):
        proc = getattr(self.site, "proc", None)
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        if self.site:
            self.site.cleanup()

    def make_site(self, port, smtp_extra="", user=None):
        auth = f", user: {user}, password: '${{env:CRONHOST_TEST_SMTP_PASSWORD}}'" if user else ""
        self.site = ApiSite("smtp: {host: 127.0.0.1, port: %d, tls: none, from: 'Cron <cron@acme.test>'%s%s}\n"
                            % (port, auth, smtp_extra))
        files = os.path.join(self.site.root, "files")
        os.makedirs(files)
        self.blob = bytes(range(256)) * 40
        with open(os.path.join(files, "blob.bin"), "wb") as f:
            f.write(self.blob)
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))  # one run, right after start
        self.site.lua_job("send", SEND, schedule=f"{{at: '{soon}'}}", extra=f"params: {{dir: {files}}}\n",
                          allow="  mail: ['*@acme.test']\n  files: [files]\n")
        return self.site

    def test_delivered_with_auth_alternatives_and_attachments(self):
        os.environ["CRONHOST_TEST_SMTP_PASSWORD"] = "pw-s3cret-123"
        tmp = services.tempfile.mkdtemp()
        with services.SmtpSink(tmp, user="tester", password="pw-s3cret-123") as smtp:
            site = self.make_site(smtp.port, user="tester")
            site.start()
            runs = site.wait_run("send")
            site.stop()
            mail = smtp.wait_messages(1)[0]
        self.assertEqual(runs[0]["status"], "succeeded", runs[0])
        self.assertTrue(json.loads(runs[0]["result"])["sent"])
        self.assertEqual(mail.envelope["auth_user"], "tester")
        self.assertEqual(mail.envelope["mail_from"], "cron@acme.test")
        self.assertEqual(sorted(mail.envelope["rcpt_tos"]),
                         ["audit@acme.test", "dev@acme.test", "lead@acme.test", "ops@acme.test"])
        m = mail.message
        self.assertEqual(m["Subject"], "Backup done ✓")
        self.assertEqual(m["To"], "ops@acme.test, Dev Team <dev@acme.test>")
        self.assertEqual(m["Cc"], "lead@acme.test")
        self.assertIsNone(m["Bcc"])
        self.assertIsNotNone(m["Date"])
        self.assertTrue(m["Message-ID"].endswith("@acme.test>"))
        self.assertTrue(m.get_body(("plain",)).get_content().startswith("Rows: 42\nlong line long line"))
        self.assertEqual(m.get_body(("html",)).get_content().strip(), "<p>Rows: <b>42</b></p>")
        attachments = [(a.get_filename(), a.get_content_type(), a.get_content()) for a in m.iter_attachments()]
        self.assertEqual(attachments, [("blob.bin", "application/octet-stream", self.blob),
                                       ("report.csv", "text/csv", "a,b\n1,2\n")])
        self.assertNotIn("pw-s3cret-123", site.log_text())

    def test_outbox_retries_until_the_relay_is_up(self):
        port = services.free_port()  # nothing listens here yet: the relay is down
        site = self.make_site(port, ", backoff: 1s, max_backoff: 1s, attempts: 20")
        site.start()
        runs = site.wait_run("send")
        result = json.loads(runs[0]["result"])
        self.assertEqual(runs[0]["status"], "succeeded", runs[0])
        self.assertTrue(result["queued"])
        self.assertIn("Couldn't connect to server", result["error"])
        self.assertEqual(len(site.query("SELECT * FROM outbox")), 1)
        time.sleep(1.5)  # at least one retry fails while the relay is still down
        tmp = services.tempfile.mkdtemp()
        with services.SmtpSink(tmp, port=port) as smtp:
            mail = smtp.wait_messages(1, timeout=10)[0]
            wait_for(lambda: not site.query("SELECT * FROM outbox"), what="the outbox to empty")
            site.stop()
        self.assertEqual(mail.message["Subject"], "Backup done ✓")
        self.assertIn("mail delivered from the outbox", site.log_text())
        self.assertIn("mail not delivered, will retry", site.log_text())

    def test_after_the_last_attempt_the_mail_goes_to_the_dead_letter_file(self):
        tmp = services.tempfile.mkdtemp()
        with services.SmtpSink(tmp, reject="451 4.3.0 try later") as smtp:
            site = self.make_site(smtp.port, ", backoff: 1s, attempts: 2")
            site.start()
            run = site.wait_run("send")[0]
            dead = site.state + ".dead-letter.jsonl"
            wait_for(lambda: os.path.exists(dead), what="the dead-letter file")
            wait_for(lambda: site.runs("send")[0]["notes"], what="the note on the run")
            site.stop()
            self.assertEqual(len(smtp.rejected()), 2)
        self.assertTrue(json.loads(run["result"])["queued"])
        with open(dead) as f:
            entry = json.loads(f.readline())
        self.assertEqual(entry["job"], "send")
        self.assertEqual(entry["attempts"], 2)
        self.assertEqual(entry["run_id"], run["id"])
        self.assertIn("(server replied 451)", entry["error"])
        self.assertEqual(entry["message"]["subject"], "Backup done ✓")
        note = site.runs("send")[0]["notes"]
        self.assertTrue(note.startswith('mail "Backup done ✓" was not delivered after 2 attempts'), note)
        self.assertIn("kept in " + dead, note)
        # The command line shows the note, as the API does.
        shown = site.cli("show", str(run["id"]), "--state", site.state)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("notes: " + note + "\n", shown.stdout)
        shown_json = json.loads(site.cli("show", str(run["id"]), "--state", site.state, "--json").stdout)
        self.assertEqual(shown_json["notes"], note)
        self.assertEqual(site.query("SELECT * FROM outbox"), [])

    def test_a_permanent_refusal_fails_the_call_and_is_kept(self):
        tmp = services.tempfile.mkdtemp()
        with services.SmtpSink(tmp, reject="550 5.1.1 no such user") as smtp:
            site = self.make_site(smtp.port)
            site.start()
            run = site.wait_run("send")[0]
            site.stop()
        self.assertEqual(run["status"], "failed")
        self.assertIn('mail.send: "Backup done ✓" was refused: SMTP 127.0.0.1:%d' % smtp.port, run["error"])
        self.assertIn("(server replied 550)", run["error"])
        dead = site.state + ".dead-letter.jsonl"
        with open(dead) as f:
            self.assertEqual(json.loads(f.readline())["attempts"], 1)

    def test_dry_run_prints_the_mail_and_sends_nothing(self):
        tmp = services.tempfile.mkdtemp()
        with services.SmtpSink(tmp) as smtp:
            site = self.make_site(smtp.port)
            out = site.dry_run("send")
            self.assertEqual(smtp.messages(), [])
        self.assertEqual(out["status"], "succeeded", out)
        [effect] = out["effects"]
        self.assertEqual(effect["kind"], "mail")
        self.assertEqual(effect["summary"], 'to ops@acme.test, Dev Team <dev@acme.test> cc 1 bcc 1: "Backup done ✓"; '
                                            "attached blob.bin (10.0 KiB), report.csv (8 bytes)")
        self.assertEqual(effect["detail"]["bcc"], ["audit@acme.test"])
        self.assertEqual([a["bytes"] for a in effect["detail"]["attachments"]], [10240, 8])

    def test_denials_and_bad_arguments(self):
        site = self.make_site(services.free_port())
        site.lua_job("bad", """
            print(pcall(mail.send, {to = "boss@other.test", subject = "s", text = "t"}))
            print(pcall(mail.send, {to = "not an address", subject = "s", text = "t"}))
            print(pcall(mail.send, {to = "a@acme.test", subject = "s"}))
            print(pcall(mail.send, {to = "a@acme.test", subject = "two\\nlines", text = "t"}))
            print(pcall(mail.send, {to = "a@acme.test", subject = "s", text = "t", attachments = {{path = "/etc/passwd"}}}))
            print(pcall(mail.send, {to = "a@acme.test", subject = 5, text = "t"}))
        """, allow="  mail: ['*@acme.test']\n")
        lines = site.output_lines(site.dry_run("bad"))
        self.assertEqual(lines, [
            "false\tmail: recipient boss@other.test is not allowed for job bad (allow.mail)",
            "false\tmail.send: 'not an address' is not an email address (expected name@host or Name <name@host>)",
            "false\tmail.send: give text, html or both",
            "false\tmail.send: the subject must be one line",
            "false\tfiles: /etc/passwd is not allowed for job bad (allow.files)",
            "false\tmail.send: field 'subject' must be a string (got number)",
        ])


if __name__ == "__main__":
    unittest.main()
