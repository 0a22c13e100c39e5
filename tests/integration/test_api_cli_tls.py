"""The command line against a running host (--server, --token-file, CRONHOST_TOKEN) and the
API over HTTPS with a certificate from the host config."""
import json
import os
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
os.environ.setdefault("CRONHOST_BIN", os.path.join(HERE, "..", "..", "build", "cronhost"))

from api_client import ApiTestCase  # noqa: E402
from test_api import add_common_jobs  # noqa: E402

BIN = os.environ["CRONHOST_BIN"]


class CliServerTest(ApiTestCase):
    def cli(self, *args, as_="alice", env=None):
        """Runs cronhost with --server and the token file of `as_`; returns (code, stdout, stderr)."""
        server = [] if as_ is None else ["--server", self.api.base_url, "--token-file",
                                         os.path.join(self.site.root, "tokens", as_)]
        done = subprocess.run([BIN, *args, *server], capture_output=True, text=True, timeout=30,
                              env=dict(os.environ, **(env or {})))
        return done.returncode, done.stdout, done.stderr

    def test_trigger_enable_disable_and_approvals_through_the_api(self):
        add_common_jobs(self.make_site())
        self.start()
        code, out, err = self.cli("trigger", "greet", "--param", "name=cli", as_="otto")
        self.assertEqual(code, 0, err)
        run_id = int(out.split()[1])  # "run 1 of greet started"
        self.assertEqual(out.strip(), f"run {run_id} of greet started")
        run = self.wait_run(run_id)
        self.assertEqual((run["output"], run["triggered_by"]), ("hello, cli\n", "otto"))

        self.assertEqual(self.cli("disable", "greet")[1].strip(), "greet is disabled; next fire none")
        self.assertFalse(self.call("GET", "/api/jobs/greet")["enabled"])
        code, out, _ = self.cli("enable", "greet", "--json")
        self.assertEqual((code, json.loads(out)["enabled"]), (0, True))

        self.wait_run(self.trigger("asker", {"keys": ["1.4.0", "1.5.0"]}))
        code, out, _ = self.cli("approvals", "list", "--status", "pending")
        self.assertEqual(code, 0)
        self.assertIn("PENDING", out)
        ids = {a["key"]: a["id"] for a in json.loads(self.cli("approvals", "list", "--json")[1])}
        code, out, err = self.cli("approvals", "approve", str(ids["1.4.0"]), "--note", "ship it", as_="april")
        self.assertEqual(code, 0, err)
        self.assertIn("as april", out)
        approval = self.call("GET", f"/api/approvals/{ids['1.4.0']}")
        self.assertEqual((approval["status"], approval["decided_by"], approval["notes"]), ("APPROVED", "april", "ship it"))
        code, out, err = self.cli("approvals", "cancel", str(ids["1.5.0"]), "--note", "skip this one", as_="april")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.api.call("GET", f"/api/approvals/{ids['1.5.0']}").status, 404)

    def test_refusals_and_usage_errors_are_clear(self):
        add_common_jobs(self.make_site())
        self.start()
        code, _, err = self.cli("trigger", "greet", as_="vera")
        self.assertEqual(code, 1)
        self.assertIn('the token "vera" has the role viewer, which may not do this (HTTP 403)', err)
        code, _, err = self.cli("trigger", "nope")
        self.assertEqual(code, 1)
        self.assertIn('no job named "nope" (HTTP 404)', err)
        code, _, err = self.cli("trigger", "greet", as_=None)
        self.assertEqual(code, 2)
        self.assertIn("give --server URL", err)
        code, _, err = self.cli("approvals", "approve", "1", "--by", "bob")
        self.assertEqual(code, 2)
        self.assertIn("with --server the token's name is recorded", err)
        # The token may come from the environment instead of a file.
        done = subprocess.run([BIN, "trigger", "greet", "--server", self.api.base_url], capture_output=True, text=True,
                              timeout=30, env=dict(os.environ, CRONHOST_TOKEN=self.tokens["otto"]))
        self.assertEqual(done.returncode, 0, done.stderr)


class TlsTest(ApiTestCase):
    def test_the_api_over_https(self):
        certs = tempfile.mkdtemp(prefix="cronhost-tls-")
        cert, key = os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        site = self.make_site(f"  tls: {{cert: {cert}, key: {key}}}\n")
        add_common_jobs(site)
        site.start()
        from daemon_site import wait_for
        port = wait_for(self.read_port, timeout=10, what="the API's port file")
        context = ssl.create_default_context(cafile=cert)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
        request = urllib.request.Request(f"https://127.0.0.1:{port}/api/jobs/greet",
                                         headers={"Authorization": "Bearer " + self.tokens["vera"]})
        with opener.open(request, timeout=15) as response:
            self.assertEqual(json.loads(response.read())["name"], "greet")
        with self.assertRaises(Exception):  # plain HTTP on the TLS port gets no answer
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                f"http://127.0.0.1:{port}/api/whoami", timeout=5).read()
        self.assertEqual(site.stop(), 0)


if __name__ == "__main__":
    unittest.main()
