"""The run page's live output end to end: the real daemon, a job printing a line every half
second, driven by headless Chromium (tests/browser/run_page_test.js): lines appear while the
run runs, the view follows them until scrolled up, the end shows the status and result, and
a retried run's attempts are grouped. Needs node and `npm install` in tests/browser.
RUN_PAGE_SERVER_EXTRA adds lines to the server section, e.g. "  dashboard_dir: host/server/web"
(absolute) to try dashboard edits without rebuilding."""
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
os.environ.setdefault("CRONHOST_BIN", os.path.join(REPO, "build", "cronhost"))

from api_client import ApiTestCase  # noqa: E402

BROWSER_TEST = os.path.join(REPO, "tests", "browser", "run_page_test.js")
PLAYWRIGHT = os.path.join(REPO, "tests", "browser", "node_modules", "playwright-core")
NODE = shutil.which("node")
TICKS = 24  # half a second apart: 12 s of output, long enough to watch and to scroll
NEW_YEAR = '{cron: "0 0 1 1 *"}'


class RunPageTest(ApiTestCase):
    @unittest.skipIf(NODE is None, "node is not installed: the run page's browser test needs it")
    def test_live_output_on_the_run_page(self):
        self.assertTrue(os.path.isdir(PLAYWRIGHT),
                        "playwright-core is missing: run `cd tests/browser && npm install --no-audit --no-fund`")
        site = self.make_site(server_extra=os.environ.get("RUN_PAGE_SERVER_EXTRA", ""))
        site.lua_job("ticker", f'for i = 1, {TICKS} do print("tick " .. i) sleep(0.5) end\nreturn {{ticks = {TICKS}}}\n',
                     schedule=NEW_YEAR, extra="timeout: 60s\n")
        site.lua_job("flaky", 'print("attempt " .. job.attempt)\nif job.attempt < 3 then error("not yet") end\nreturn true\n',
                     schedule=NEW_YEAR, extra="retries: {attempts: 3, backoff: 1s}\n")
        self.start()
        shots = os.environ.get("CRONHOST_SCREENSHOTS", os.path.join(REPO, "build", "screenshots"))
        browser = subprocess.run(
            [NODE, BROWSER_TEST, self.api.base_url, self.tokens["alice"], shots],
            env={**os.environ, "LIVE_JOB": "ticker", "LIVE_TICKS": str(TICKS), "FLAKY_JOB": "flaky"},
            capture_output=True, text=True, timeout=150)
        report = f"browser test (exit {browser.returncode}):\n{browser.stdout}\n{browser.stderr[-3000:]}"
        self.assertEqual(browser.returncode, 0, report + "\n--- daemon log:\n" + self.site.log_text()[-3000:])
        print("\n" + browser.stdout, file=sys.stderr)
        # What the browser watched is what the host stored.
        runs = self.call("GET", "/api/jobs/ticker/runs")["runs"]
        self.assertEqual([r["status"] for r in runs], ["succeeded"])
        for name in ("run-live", "run-done", "run-attempts"):
            self.assertGreater(os.path.getsize(os.path.join(shots, f"{name}.png")), 0, name)
        self.assertEqual(self.site.stop(), 0)


if __name__ == "__main__":
    unittest.main()
