"""The bytes a relay receives from mail.send (real daemon, real aiosmtpd sink): text parts with
CRLF line breaks however the script wrote them, and a queued mail keeping the Date of its
first attempt when the outbox delivers it later."""
import email.utils
import os
import time
import unittest

from api_site import ApiSite, SiteTestCase, services, wait_for

# Line breaks as scripts write them: LF, CRLF and a lone CR.
SEND = """
local r, err = mail.send{to = "ops@acme.test", subject = "%s", text = "one\\ntwo\\r\\nthree\\rfour\\n"%s}
if not r then error(err) end
return r
"""


def raw_part(raw, content_type):
    """The encoded body of the part of `raw` (bytes) with that Content-Type, as sent."""
    start = raw.index(b"Content-Type: " + content_type)
    body = raw.index(b"\r\n\r\n", start) + 4
    return raw[body:raw.index(b"\r\n--", body)]


class MailMessageTest(SiteTestCase):
    def make_site(self, port, smtp_extra=""):
        self.site = ApiSite("smtp: {host: 127.0.0.1, port: %d, tls: none, from: 'Cron <cron@acme.test>'%s}\n"
                            % (port, smtp_extra))
        return self.site

    def send_job(self, name, html=""):
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))  # one run, right after start
        self.site.lua_job(name, SEND % (name, html), schedule=f"{{at: '{soon}'}}", allow="  mail: ['*@acme.test']\n")

    def test_text_parts_go_out_with_crlf_line_breaks(self):
        smtp = self.serve(services.SmtpSink(services.tempfile.mkdtemp()))
        site = self.make_site(smtp.port)
        self.send_job("plain")
        self.send_job("both", ', html = "<p>one</p>\\n<p>two</p>\\n"')
        site.start()
        runs = site.wait_run("plain") + site.wait_run("both")
        site.stop()
        self.assertEqual([r["status"] for r in runs], ["succeeded", "succeeded"], runs)
        mails = {m.message["Subject"]: m for m in smtp.wait_messages(2)}
        for subject in ("plain", "both"):
            text = raw_part(mails[subject].raw, b"text/plain")
            self.assertEqual(text, b"one\r\ntwo\r\nthree\r\nfour\r\n", subject)
        html = raw_part(mails["both"].raw, b"text/html")
        self.assertEqual(html, b"<p>one</p>\r\n<p>two</p>\r\n")

    def test_a_retried_mail_keeps_the_date_of_its_first_attempt(self):
        smtp = self.serve(services.SmtpSink(services.tempfile.mkdtemp(), reject="451 4.3.0 try later",
                                            reject_times=1))
        site = self.make_site(smtp.port, ", backoff: 3s, max_backoff: 3s")
        self.send_job("late")
        site.start()
        run = site.wait_run("late")[0]
        mail = smtp.wait_messages(1, timeout=15)[0]
        site.stop()
        self.assertEqual(len(smtp.rejected()), 1)
        self.assertIn("mail delivered from the outbox", site.log_text())
        dated = email.utils.parsedate_to_datetime(mail.message["Date"]).timestamp()
        delivered = os.path.getmtime(os.path.join(smtp.out, "0001.eml"))
        # The first attempt was made during the run; the delivery came a backoff (3 s) later.
        self.assertLessEqual(run["started_at"] / 1000 - 1, dated)
        self.assertLessEqual(dated, run["finished_at"] / 1000)
        self.assertGreaterEqual(delivered - dated, 2)


if __name__ == "__main__":
    unittest.main()
