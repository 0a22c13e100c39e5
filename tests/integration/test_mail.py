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
        # Sent with CRLF line breaks (test_mail_message checks the bytes); the parser keeps them.
        self.assertTrue(m.get_body(("plain",)).get_content().startswith("Rows: 42\r\nlong line long line"))
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

    def test_a_changed_smtp_section_applies_to_the_next_run_after_sighup(self):
        smtp_line = "smtp: {host: 127.0.0.1, port: %d, tls: none, from: 'Cron <cron@acme.test>'}\n"
        with services.SmtpSink(services.tempfile.mkdtemp()) as old, services.SmtpSink(services.tempfile.mkdtemp()) as new:
            site = self.site = ApiSite(smtp_line % old.port)
            site.start()
            site.write("cronhost.yaml", "workers: 2\nshutdown_grace: 2s\n" + smtp_line % new.port)
            soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
            site.lua_job("send", "local r, err = mail.send{to = 'ops@acme.test', subject = 'after the reload', "
                                 "text = 'x'} if not r then error(err) end return r\n",
                         schedule=f"{{at: '{soon}'}}", allow="  mail: ['*@acme.test']\n")
            site.hup()
            runs = site.wait_run("send")
            self.assertEqual(runs[0]["status"], "succeeded", runs[0])
            mail = new.wait_messages(1)[0]
            self.assertEqual(old.messages(), [])
            site.stop()
        self.assertEqual(mail.message["Subject"], "after the reload")
        self.assertIn("smtp", [line for line in site.log_text().splitlines() if "host config changed" in line][0])

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

    def test_addresses_and_headers_cannot_be_forged(self):
        # Issue 12, item 12: every trick is refused before anything is sent, and the one mail
        # that is allowed arrives with exactly the envelope and headers that were checked.
        tmp = services.tempfile.mkdtemp()
        with services.SmtpSink(tmp) as smtp:
            site = self.make_site(smtp.port)
            site.remove_job("send")  # only this test's mail reaches the sink
            soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
            site.lua_job("forge", r"""
                local refused = {}
                local function try(m)
                  m.subject = m.subject or "s"
                  m.text = "t"
                  local ok, err = pcall(mail.send, m)
                  refused[#refused + 1] = ok and "SENT" or err
                end
                try{to = "evil@x.test@acme.test"}
                try{to = "evil%x.test@acme.test"}
                try{to = '"boss@evil.test" <ops@acme.test>'}
                try{to = "boss@evil.test <ops@acme.test>"}
                try{to = "Ops <boss@evil.test> <ops@acme.test>"}
                try{to = "ops@acme.test, boss@evil.test"}
                try{to = "ops@acme.test\r\nBcc: boss@evil.test"}
                try{to = "Ops\r\nBcc: boss@evil.test <ops@acme.test>"}
                try{to = "ops@acme.test.", subject = "trailing dot"}
                try{to = "ops@[127.0.0.1]"}
                try{to = "ops@acme.test", subject = "a\0b"}
                try{to = "ops@acme.test", attachments = {{name = "a.txt\r\nContent-Type: text/html", content = "x"}}}
                try{to = "ops@acme.test", attachments = {{name = "a.txt", content = "x", type = "text/plain\r\nX-Evil: 1"}}}
                try{to = "ops@acme.test", attachments = {{name = "a.txt", content = "x", type = "not a type"}}}
                local r = assert(mail.send{to = {"Ops Desk <ops@acme.test>", "Zoë <zoe@acme.test>", "Dr. Who <who@acme.test>"},
                                           subject = "ok", text = "fine"})
                return {refused = refused, sent = r.sent}
            """, schedule=f"{{at: '{soon}'}}", allow="  mail: ['*@acme.test']\n")
            site.start()
            runs = site.wait_run("forge")
            site.stop()
            self.assertEqual(runs[0]["status"], "succeeded", runs[0])
            result = json.loads(runs[0]["result"])
            mails = smtp.messages()
        expected = [
            "mail.send: 'evil@x.test@acme.test' is not an email address: more than one '@'",
            "mail.send: 'evil%x.test@acme.test' is not an email address: '%' or '!' routes mail through a host",
            "mail.send: '\"boss@evil.test\" <ops@acme.test>' is not an email address: the display name holds '@'",
            "mail.send: 'boss@evil.test <ops@acme.test>' is not an email address: the display name holds '@'",
            "mail.send: 'Ops <boss@evil.test> <ops@acme.test>' is not an email address: the display name holds '@'",
            "mail.send: 'ops@acme.test, boss@evil.test' is not an email address: more than one '@'",
            "mail.send: 'ops@acme.test\\r\\nBcc: boss@evil.test' is not an email address: it holds a control character",
            "mail.send: 'Ops\\r\\nBcc: boss@evil.test <ops@acme.test>' is not an email address: it holds a control character",
            "mail.send: 'ops@acme.test.' is not an email address: the domain must be labels of letters, digits and '-'",
            "mail.send: 'ops@[127.0.0.1]' is not an email address: the domain must be labels of letters, digits and '-'",
            "mail.send: the subject holds a control character (it must be one line of text)",
            "mail.send attachment 1: field 'name' holds a control character",
            "mail.send attachment 1: field 'type' must be a media type such as text/csv (got 'text/plain\\r\\nX-Evil: 1')",
            "mail.send attachment 1: field 'type' must be a media type such as text/csv (got 'not a type')",
        ]
        self.assertEqual(len(result["refused"]), len(expected), result)
        for got, want in zip(result["refused"], expected):
            self.assertIn(want, got)
        self.assertTrue(result["sent"])
        self.assertEqual(len(mails), 1, [m.envelope for m in mails])
        mail = mails[0]
        self.assertEqual(mail.envelope["mail_from"], "cron@acme.test")
        self.assertEqual(mail.envelope["rcpt_tos"], ["ops@acme.test", "zoe@acme.test", "who@acme.test"])
        self.assertEqual(str(mail.message["To"]), 'Ops Desk <ops@acme.test>, Zoë <zoe@acme.test>, "Dr. Who" <who@acme.test>')
        self.assertIn(b"To: Ops Desk <ops@acme.test>, =?UTF-8?B?Wm/Dqw==?= <zoe@acme.test>, \"Dr. Who\" <who@acme.test>\r\n",
                      mail.raw)
        self.assertEqual(mail.message["Subject"], "ok")

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
            "false\tmail.send: 'not an address' is not an email address: no '@' (expected name@host or Name <name@host>)",
            "false\tmail.send: give text, html or both",
            "false\tmail.send: the subject holds a control character (it must be one line of text)",
            "false\tfiles: /etc/passwd is not allowed for job bad (allow.files)",
            "false\tmail.send: field 'subject' must be a string (got number)",
        ])


if __name__ == "__main__":
    unittest.main()
