"""Smoke tests of the test-support servers: /usr/bin/python3 -m unittest test_services
(from tests/support). Prints each server's start-up time at the end."""
import contextlib
import json
import re
import smtplib
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from email.message import EmailMessage
from urllib.parse import urlencode, urljoin

from services import DockerRegistry, FakeOci, HttpReceiver, SmtpSink, OPENER

TAGS = ["0.1.2", "0.1.3", "0.1.5", "0.2.0-rc.1", "latest", "sha-abc"]
TIMINGS = []


def tearDownModule():
    print("\nstart-up times (spawn until ready):", file=sys.stderr)
    for name, seconds in TIMINGS:
        print("  %-28s %.3f s" % (name, seconds), file=sys.stderr)


@contextlib.contextmanager
def started(service, label):
    """with service, noting its start-up time for the summary."""
    with service:
        TIMINGS.append((label, service.startup_seconds))
        yield service


def get(url, headers=None):
    """-> (status, headers, parsed JSON or bytes) without raising on 4xx/5xx."""
    try:
        with OPENER.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            status, hdrs, body = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, body = e.code, e.headers, e.read()
    try:
        return status, hdrs, json.loads(body)
    except ValueError:
        return status, hdrs, body


def challenge_params(header):
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def report_mail():
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "sched@example.test", "ops@example.test", "Job nightly failed"
    msg.set_content("Job nightly failed at step test.")
    msg.add_attachment(b"job,status\nbuild,ok\n", maintype="text", subtype="csv", filename="report.csv")
    return msg


class SmtpTest(unittest.TestCase):
    def setUp(self):
        self.tmp = self.enterContext(tempfile.TemporaryDirectory(prefix="svc-test-"))

    def check_delivered(self, sink, auth_user=None, tls=False):
        mail = sink.wait_messages(1, timeout=5)[0]
        self.assertEqual(mail.message["Subject"], "Job nightly failed")
        [attachment] = mail.message.iter_attachments()
        self.assertEqual((attachment.get_filename(), attachment.get_content()),
                         ("report.csv", "job,status\nbuild,ok\n"))
        self.assertEqual(mail.envelope["mail_from"], "sched@example.test")
        self.assertEqual(mail.envelope["rcpt_tos"], ["ops@example.test"])
        self.assertEqual((mail.envelope["auth_user"], mail.envelope["tls"]), (auth_user, tls))

    def test_plain(self):
        with started(SmtpSink(self.tmp), "smtp plain") as sink:
            with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as s:
                s.send_message(report_mail())
            self.check_delivered(sink)

    def test_auth_plain_and_login(self):
        with started(SmtpSink(self.tmp, user="tester", password="s3cret"), "smtp auth") as sink:
            with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as s:
                with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
                    s.send_message(report_mail())
                self.assertEqual(cm.exception.smtp_code, 530)
            for mechanism in ("PLAIN", "LOGIN"):
                with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as s:
                    s.ehlo()
                    s.user, s.password = "tester", "wrong"
                    with self.assertRaises(smtplib.SMTPAuthenticationError):
                        s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()))
                    s.password = "s3cret"
                    s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()))
                    s.send_message(report_mail())
            self.assertEqual(len(sink.wait_messages(2, timeout=5)), 2)
            self.check_delivered(sink, auth_user="tester")

    def test_starttls_auth(self):
        with started(SmtpSink(self.tmp, user="tester", password="s3cret", tls=True), "smtp starttls") as sink:
            with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as s:
                s.ehlo()
                self.assertNotIn("auth", s.esmtp_features)  # AUTH is offered only after STARTTLS
                s.starttls(context=sink.client_context())
                s.login("tester", "s3cret")
                s.send_message(report_mail())
            self.check_delivered(sink, auth_user="tester", tls=True)

    def test_smtps(self):
        with started(SmtpSink(self.tmp, smtps=True), "smtp smtps") as sink:
            with smtplib.SMTP_SSL("127.0.0.1", sink.port, timeout=5,
                                  context=sink.client_context()) as s:
                s.send_message(report_mail())
            self.check_delivered(sink, tls=True)

    def test_reject(self):
        for reply, code in (("451 4.3.0 try later", 451), ("550 5.1.1 no such user", 550)):
            with started(SmtpSink(self.tmp, reject=reply), "smtp reject %d" % code) as sink:
                with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as s:
                    with self.assertRaises(smtplib.SMTPDataError) as cm:
                        s.send_message(report_mail())
                self.assertEqual(cm.exception.smtp_code, code)
                self.assertEqual(sink.messages(), [])
                self.assertEqual(len(sink.rejected()), 1)

    def test_reject_then_accept(self):
        with SmtpSink(self.tmp, reject="451 4.3.0 try later", reject_times=1) as sink:
            with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as s:
                with self.assertRaises(smtplib.SMTPDataError):
                    s.send_message(report_mail())
                s.send_message(report_mail())  # the retry goes through
            self.check_delivered(sink)


class RegistryTest(unittest.TestCase):
    def setUp(self):
        self.tmp = self.enterContext(tempfile.TemporaryDirectory(prefix="svc-test-"))

    def push_and_list(self, registry, headers):
        digests = registry.push("acme/app", *TAGS)
        self.assertEqual(sorted(digests), sorted(TAGS))
        self.assertEqual(len(set(digests.values())), len(TAGS))  # one image per tag
        status, _, body = get(registry.url + "/v2/acme/app/tags/list", headers)
        self.assertEqual(status, 200)
        self.assertEqual(sorted(body["tags"]), sorted(TAGS))

    def test_no_auth(self):
        with started(DockerRegistry(self.tmp), "docker-registry") as reg:
            self.push_and_list(reg, {})

    def test_htpasswd(self):
        with started(DockerRegistry(self.tmp, auth="htpasswd"), "docker-registry htpasswd") as reg:
            status, headers, _ = get(reg.url + "/v2/acme/app/tags/list")
            self.assertEqual(status, 401)
            self.assertEqual(headers["WWW-Authenticate"], 'Basic realm="test-registry"')
            self.push_and_list(reg, {"Authorization": "Basic dGVzdGVyOnMzY3JldA=="})  # tester:s3cret

    def test_token(self):
        with DockerRegistry(self.tmp, auth="token") as reg:
            TIMINGS.append(("docker-registry token", reg.startup_seconds))
            TIMINGS.append(("token server", reg.token_server.startup_seconds))
            reg.push("acme/app", *TAGS)
            status, headers, _ = get(reg.url + "/v2/acme/app/tags/list")
            self.assertEqual(status, 401)
            params = challenge_params(headers["WWW-Authenticate"])
            self.assertEqual(params["scope"], "repository:acme/app:pull")
            query = urlencode({"service": params["service"], "scope": params["scope"]})
            status, _, answer = get(params["realm"] + "?" + query)
            self.assertEqual((status, answer["expires_in"]), (200, 300))
            status, _, body = get(reg.url + "/v2/acme/app/tags/list",
                                  {"Authorization": "Bearer " + answer["token"]})
            self.assertEqual((status, sorted(body["tags"])), (200, sorted(TAGS)))
            status, headers, _ = get(reg.url + "/v2/acme/app/tags/list", {"Authorization": "Bearer junk"})
            self.assertIn('error="invalid_token"', headers["WWW-Authenticate"])
            scopes = [r["scope"] for r in reg.token_server.requests()]
            self.assertIn(["repository:acme/app:pull,push"], scopes)
            self.assertEqual(scopes[-1], ["repository:acme/app:pull"])

    def test_token_with_login(self):
        with DockerRegistry(self.tmp, auth="token", user="bot", password="pat") as reg:
            reg.push("acme/app", "1.0")
            status, _, _ = get(reg.token_server.realm + "?service=registry.test&scope=repository:acme/app:pull")
            self.assertEqual(status, 401)  # anonymous token refused when a login is configured
            self.assertEqual(reg.token_server.requests()[0]["user"], "bot")


class FakeOciTest(unittest.TestCase):
    def setUp(self):
        self.tmp = self.enterContext(tempfile.TemporaryDirectory(prefix="svc-test-"))

    def walk(self, oci, first, headers=None):
        pages, url = [], oci.url + first
        while url:
            status, hdrs, body = get(url, headers)
            self.assertEqual(status, 200)
            pages.append(body["tags"])
            link = hdrs.get("Link")
            url = urljoin(oci.url, re.match(r"<([^>]*)>", link).group(1)) if link else None
        return pages

    def test_pagination(self):
        with started(FakeOci(self.tmp, TAGS[::-1]), "fake_oci") as oci:
            self.assertEqual(self.walk(oci, "/v2/acme/app/tags/list?n=2"),
                             [["0.1.2", "0.1.3"], ["0.1.5", "0.2.0-rc.1"], ["latest", "sha-abc"]])
            self.assertEqual(self.walk(oci, "/v2/acme/app/tags/list"), [sorted(TAGS)])
            _, hdrs, _ = get(oci.url + "/v2/acme/app/tags/list?n=4")
            self.assertEqual(hdrs["Link"], '</v2/acme/app/tags/list?n=4&last=0.2.0-rc.1>; rel="next"')

    def test_unsorted_page_size_absolute(self):
        with FakeOci(self.tmp, TAGS, unsorted=True, page_size=4, absolute_links=True) as oci:
            pages = self.walk(oci, "/v2/acme/app/tags/list")
            self.assertEqual(pages, [TAGS[::-1][:4], TAGS[::-1][4:]])
            self.assertIn(oci.url, oci_link(oci))

    def test_bearer(self):
        with FakeOci(self.tmp, TAGS, bearer=True) as oci:
            status, hdrs, _ = get(oci.url + "/v2/acme/app/tags/list?n=3")
            self.assertEqual(status, 401)
            params = challenge_params(hdrs["WWW-Authenticate"])
            self.assertEqual((params["service"], params["scope"]), ("fake-registry", "repository:acme/app:pull"))
            _, _, answer = get(params["realm"] + "?" + urlencode(params))
            self.assertNotIn("expires_in", answer)
            auth = {"Authorization": "Bearer " + answer["token"]}
            self.assertEqual(sum(self.walk(oci, "/v2/acme/app/tags/list?n=3", auth), []), sorted(TAGS))
            _, hdrs, _ = get(oci.url + "/v2/acme/app/tags/list", {"Authorization": "Bearer junk"})
            self.assertIn('error="invalid_token"', hdrs["WWW-Authenticate"])
            # Each request is logged after its answer, so a quick client's next request may be
            # logged first: compare without order.
            seen = {(r["authorization"], r["status"]) for r in oci.requests()}
            self.assertLessEqual({(False, 401), (False, 200), (True, 200)}, seen)

    def test_status(self):
        with FakeOci(self.tmp, TAGS, status=503) as oci:
            self.assertEqual(get(oci.url + "/v2/acme/app/tags/list")[0], 503)


def oci_link(oci):
    return get(oci.url + "/v2/acme/app/tags/list")[1]["Link"]


class HttpReceiverTest(unittest.TestCase):
    def setUp(self):
        self.tmp = self.enterContext(tempfile.TemporaryDirectory(prefix="svc-test-"))

    def test_records_post_and_routes(self):
        with started(HttpReceiver(self.tmp), "http_receiver") as rx:
            req = urllib.request.Request(rx.url + "/hook?job=nightly", data=b'{"status":"failed"}',
                                         headers={"Content-Type": "application/json", "X-Token": "t1"})
            with OPENER.open(req, timeout=5) as r:
                self.assertEqual((r.status, json.loads(r.read())), (200, {"ok": True}))
            [rec] = rx.wait_requests(1)
            self.assertEqual((rec["method"], rec["path"], rec["query"]), ("POST", "/hook", {"job": ["nightly"]}))
            self.assertEqual((rec["headers"]["x-token"], rec["body"]), ("t1", '{"status":"failed"}'))
            with OPENER.open(rx.url + "/redirect?n=3", timeout=5) as r:  # urllib follows the 302s
                self.assertEqual((r.url, json.loads(r.read())), (rx.url + "/json", {"hello": "world", "n": [1, 2, 3]}))
            self.assertEqual(len(get(rx.url + "/big?bytes=200000")[2]), 200000)
            self.assertEqual(get(rx.url + "/status/418")[0], 418)
            echo = get(rx.url + "/echo", {"X-A": "b"})[2]
            self.assertEqual((echo["method"], echo["headers"]["x-a"]), ("GET", "b"))

    def test_status_body_delay(self):
        with HttpReceiver(self.tmp, status=503, body="down", delay=0.3) as rx:
            t0 = time.monotonic()
            status, hdrs, body = get(rx.url + "/x")
            self.assertGreaterEqual(time.monotonic() - t0, 0.3)
            self.assertEqual((status, body, hdrs["Content-Type"]), (503, b"down", "text/plain; charset=utf-8"))


if __name__ == "__main__":
    unittest.main()
