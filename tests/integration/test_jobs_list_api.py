"""The jobs list as the dashboard reads it, in one request: each job's last run and strip of
recent runs, substring search, sorting with paging, and the schedule preview's error column.
On the SQLite state, and on PostgreSQL with CRONHOST_TEST_STATE=postgres (its own ctest)."""
import os
import secrets
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("CRONHOST_BIN", os.path.join(HERE, "..", "..", "build", "cronhost"))

from api_client import ApiClient  # noqa: E402
from api_site import ApiSite, SiteTestCase, wait_for  # noqa: E402

FINAL = {"succeeded", "failed", "timed_out", "skipped", "cancelled", "interrupted"}


class JobsListApiTest(SiteTestCase):
    def api(self, method, path, body=None):
        reply = ApiClient(self.base_url, {"test": self.token}).call(method, path, body, as_="test")
        return reply.status, reply.body

    def setUp(self):
        super().setUp()
        self.token = secrets.token_hex(16)
        os.environ["LIST_TOKEN"] = self.token
        site = self.site = ApiSite()
        port_file = os.path.join(site.root, "port")
        site.write("cronhost.yaml", f"""workers: 2
shutdown_grace: 2s
server:
  listen: 127.0.0.1:0
  port_file: {port_file}
  tokens:
    - {{name: alice, role: admin, token: "${{env:LIST_TOKEN}}"}}
""")
        # Yearly schedules: only the test's triggers run them.
        site.lua_job("alpha-ok", "return {ok = true}\n", schedule='{cron: "0 0 1 1 *"}',
                     extra="description: Nightly BACKUP of the files\n")
        site.lua_job("beta-fails", "error('boom')\n", schedule='{cron: "0 0 2 1 *"}')
        site.lua_job("gamma-idle", "return true\n", schedule='{cron: "0 0 3 1 *"}', extra="enabled: false\n")
        site.start()
        port = wait_for(lambda: open(port_file).read().strip() if os.path.exists(port_file) else None,
                        timeout=10, what="the server's port file")
        self.base_url = f"http://127.0.0.1:{port}"

    def run_to_end(self, job):
        status, started = wait_for(lambda: (lambda r: r if r[0] == 202 else None)(
            self.api("POST", f"/api/jobs/{job}/trigger", {})), timeout=10, interval=0.1, what=f"{job} to take a trigger")
        run_id = started["run_id"]
        wait_for(lambda: self.api("GET", f"/api/runs/{run_id}")[1].get("status") in FINAL, timeout=15,
                 what=f"run {run_id} of {job} to end")
        return run_id

    def test_one_request_gives_the_strip_search_and_order(self):
        alpha = [self.run_to_end("alpha-ok") for _ in range(3)]
        beta = [self.run_to_end("beta-fails")]

        status, page = self.api("GET", "/api/jobs?recent=2")
        self.assertEqual(status, 200, page)
        jobs = {j["name"]: j for j in page["jobs"]}
        # Newest first, capped at `recent`; the last run is the newest, with its duration.
        self.assertEqual([r["id"] for r in jobs["alpha-ok"]["recent"]], [alpha[2], alpha[1]])
        self.assertEqual({r["status"] for r in jobs["alpha-ok"]["recent"]}, {"succeeded"})
        last = jobs["alpha-ok"]["last_run"]
        self.assertEqual((last["id"], last["status"]), (alpha[2], "succeeded"))
        self.assertIsInstance(last["duration_ms"], int)
        self.assertTrue(last["started_at"] and last["finished_at"], last)
        self.assertEqual([r["status"] for r in jobs["beta-fails"]["recent"]], ["failed"])
        self.assertEqual(jobs["beta-fails"]["recent"][0]["id"], beta[0])
        self.assertIsNone(jobs["gamma-idle"]["last_run"])
        self.assertEqual(jobs["gamma-idle"]["recent"], [])
        self.assertEqual(len(self.api("GET", "/api/jobs")[1]["jobs"][0]["recent"]), 3)  # default: up to 20

        # Substring of the name or the description, any case.
        names = lambda query: [j["name"] for j in self.api("GET", "/api/jobs?" + query)[1]["jobs"]]  # noqa: E731
        self.assertEqual(names("q=FAIL"), ["beta-fails"])
        self.assertEqual(names("q=backup"), ["alpha-ok"])
        self.assertEqual(names("q=a"), ["alpha-ok", "beta-fails", "gamma-idle"])
        self.assertEqual(names("q=nothing-like-it"), [])

        # Orders: a job without the key sorts last both ways; ties by name.
        self.assertEqual(names("sort=-name"), ["gamma-idle", "beta-fails", "alpha-ok"])
        self.assertEqual(names("sort=-last_run"), ["beta-fails", "alpha-ok", "gamma-idle"])
        self.assertEqual(names("sort=last_run"), ["alpha-ok", "beta-fails", "gamma-idle"])
        self.assertEqual(names("sort=status"), ["beta-fails", "alpha-ok", "gamma-idle"])
        self.assertEqual(names("sort=next_fire"), ["alpha-ok", "beta-fails", "gamma-idle"])  # disabled: none ahead
        self.assertEqual(names("sort=-next_fire"), ["beta-fails", "alpha-ok", "gamma-idle"])
        # Paging a sorted list with the `next` it gives.
        status, first = self.api("GET", "/api/jobs?sort=-last_run&limit=2")
        self.assertEqual(([j["name"] for j in first["jobs"]], first["total"]), (["beta-fails", "alpha-ok"], 3))
        status, second = self.api("GET", f"/api/jobs?sort=-last_run&limit=2&after={first['next']}")
        self.assertEqual(([j["name"] for j in second["jobs"]], second["next"]), (["gamma-idle"], None))
        status, by_name = self.api("GET", "/api/jobs?sort=-name&limit=1&after=beta-fails")
        self.assertEqual([j["name"] for j in by_name["jobs"]], ["alpha-ok"])

        for bad, word in (("sort=size", "sort=size"), ("recent=51", "recent"), ("sort=status&after=x", "after=x")):
            status, error = self.api("GET", "/api/jobs?" + bad)
            self.assertEqual(status, 400, error)
            self.assertIn(word, error["error"]["message"])

    def test_a_bad_cron_expression_names_its_column(self):
        for text, column in (("0 3 * * MOX", 8), ("61 * * * *", 0), ("0 3 * 13 *", 6), ("0 3 *", 4)):
            status, answer = self.api("POST", "/api/schedule/preview", {"cron": text})
            self.assertEqual(status, 400, answer)
            self.assertEqual((answer["error"]["field"], answer["error"]["column"]), ("cron", column), (text, answer))
            self.assertIn(text, answer["error"]["message"])
        status, answer = self.api("POST", "/api/schedule/preview", {"cron": "0 3 * * 1-5", "timezone": "UTC"})
        self.assertEqual((status, len(answer["next_fires"])), (200, 5), answer)


if __name__ == "__main__":
    unittest.main()
