"""The web dashboard end to end: the real daemon serving the API and the dashboard files from
host/server/web, driven by headless Chromium (tests/browser/dashboard_test.js): sign-in,
paged jobs list, trigger and watch a run, schedule preview/save/reset, approve with a note,
live runs page, a viewer's read-only look. Screenshots go to build/screenshots/ (or
$CRONHOST_SCREENSHOTS). Needs node and `npm install` in tests/browser (playwright-core)."""
import json
import os
import secrets
import shutil
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
os.environ.setdefault("CRONHOST_BIN", os.path.join(REPO, "build", "cronhost"))

from api_site import ApiSite, SiteTestCase, wait_for  # noqa: E402

BROWSER_TEST = os.path.join(REPO, "tests", "browser", "dashboard_test.js")
PLAYWRIGHT = os.path.join(REPO, "tests", "browser", "node_modules", "playwright-core")
NODE = shutil.which("node")
# The browser test bounds itself at 150 s; this catches a node that hangs anyway.
BROWSER_TIMEOUT_S = 200
# More than one page of the jobs list (100 rows), so the test pages with "Load more".
BULK_JOBS = 110
HELLO_OUTPUT = "hello from the dashboard test"
# A proxy from the environment must never see loopback test traffic.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class DashboardTest(SiteTestCase):
    def setUp(self):
        super().setUp()
        self.admin_token = secrets.token_hex(16)
        self.viewer_token = secrets.token_hex(16)
        os.environ["ALICE_TOKEN"] = self.admin_token  # the daemon reads it as ${env:ALICE_TOKEN}

    def make_site(self):
        site = self.site = ApiSite()
        site.write("viv.token", self.viewer_token + "\n")
        self.port_file = os.path.join(site.root, "port")
        site.write("cronhost.yaml", f"""workers: 2
shutdown_grace: 2s
server:
  listen: 127.0.0.1:0
  port_file: {self.port_file}
  tokens:
    - {{name: alice, role: admin, token: "${{env:ALICE_TOKEN}}"}}
    - {{name: viv, role: viewer, token: "${{file:{site.root}/viv.token}}"}}
""")
        site.lua_job("hello", f'log.info("{HELLO_OUTPUT}") sleep(0.5) return {{ok = true}}\n',
                     schedule='{cron: "0 2 * * *", timezone: Europe/Berlin}',
                     extra="description: Says hello; the browser test triggers and reschedules it\n")
        # Two approvals, so the badge goes from 2 to 1 when the browser approves one.
        site.lua_job("asker", "for _, v in ipairs({'1.0.0', '1.1.0'}) do\n"
                              "  assert(approvals.request{kind = 'update', key = v, title = 'Update web to ' .. v,\n"
                              "                           payload = {version = v}})\n"
                              "end\nreturn {asked = 2}\n",
                     schedule='{cron: "0 0 1 1 *"}')
        site.write("scripts/noop.lua", "return true\n")
        for i in range(BULK_JOBS):
            site.job(f"bulk-{i:03d}", 'schedule: {cron: "0 0 1 1 *"}\nrun: {lua: scripts/noop.lua}\n')
        return site

    def api(self, method, path, body=None):
        request = urllib.request.Request(
            f"{self.base_url}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.admin_token}", "Content-Type": "application/json"})
        try:
            with OPENER.open(request, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: HTTP {error.code} {error.read()[:500]!r}") from None

    def trigger(self, job):
        try:
            return self.api("POST", f"/api/jobs/{job}/trigger", {})
        except AssertionError as error:
            if "HTTP 409" in str(error):
                return None
            raise

    def read_port(self):
        try:
            with open(self.port_file) as f:
                text = f.read().strip()
            return int(text) if text else None
        except (FileNotFoundError, ValueError):
            return None

    @unittest.skipIf(NODE is None, "node is not installed: the dashboard's browser test needs it")
    def test_dashboard_in_a_browser(self):
        self.assertTrue(os.path.isdir(PLAYWRIGHT),
                        "playwright-core is missing: run `cd tests/browser && npm install --no-audit --no-fund`")
        site = self.make_site().start()
        port = wait_for(self.read_port, timeout=10, what="the server's port file")
        self.base_url = f"http://127.0.0.1:{port}"

        # Just after start the scheduler may not hold the jobs yet and answers 409 "no job named"
        # (seen once in 30 runs); that window is the server's to close, not this test's subject.
        wait_for(lambda: self.trigger("asker"), timeout=5, interval=0.1, what="asker to accept a trigger")
        wait_for(lambda: self.api("GET", "/api/approvals?status=pending")["pending"] == 2, timeout=15,
                 interval=0.2, what="two pending approvals")

        shots = os.environ.get("CRONHOST_SCREENSHOTS", os.path.join(REPO, "build", "screenshots"))
        browser = subprocess.run(
            [NODE, BROWSER_TEST, self.base_url, self.admin_token, shots],
            env={**os.environ, "DASHBOARD_JOB": "hello", "DASHBOARD_OUTPUT": HELLO_OUTPUT,
                 "VIEWER_TOKEN": self.viewer_token},
            capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S)
        report = f"browser test (exit {browser.returncode}):\n{browser.stdout}\n{browser.stderr[-3000:]}"
        self.assertEqual(browser.returncode, 0, report + "\n--- daemon log:\n" + site.log_text()[-3000:])
        print("\n" + browser.stdout, file=sys.stderr)

        # What the browser did reached the daemon.
        approvals = self.api("GET", "/api/approvals")["approvals"]
        approved = [a for a in approvals if a["status"] != "PENDING"]
        self.assertEqual(len(approved), 1, approvals)
        self.assertEqual(approved[0]["decided_by"], "alice")
        self.assertIn("approved by the dashboard test", approved[0]["notes"] or "")
        manual = [r for r in self.api("GET", "/api/jobs/hello/runs")["runs"] if r["trigger"] == "manual"]
        self.assertEqual(len(manual), 2, manual)  # one from the job page, one while on the runs page
        self.assertTrue(all(r["status"] == "succeeded" and r["triggered_by"] == "alice" for r in manual), manual)
        hello = self.api("GET", "/api/jobs/hello")
        self.assertFalse(hello["schedule"]["overridden"], "the browser's reset did not restore the file schedule")
        self.assertEqual(hello["schedule"]["expression"], "0 2 * * *")
        for name in ("login", "jobs", "jobs-phone", "job-detail", "approvals", "runs"):
            self.assertTrue(os.path.getsize(os.path.join(shots, f"{name}.png")) > 0, name)
        self.assertEqual(site.stop(), 0)


if __name__ == "__main__":
    unittest.main()
