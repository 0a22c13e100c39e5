"""The HTTP runner's contract end to end: the real daemon POSTs a JobContext to a loopback
service the test runs (tests/support/job_service.py) and records the JobResult it reads back,
seen through the admin API."""
import os
import secrets
import sys
import time
import unittest
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
os.environ.setdefault("CRONHOST_BIN", os.path.join(HERE, "..", "..", "build", "cronhost"))

import job_service  # noqa: E402
from api_client import ApiTestCase  # noqa: E402
from services import free_port  # noqa: E402

NEW_YEAR = 'schedule: {cron: "0 0 1 1 *"}\n'  # out of the way: the tests trigger by hand
EVERY_SECOND = 'schedule: {cron: "* * * * * *"}\n'
KEY_VARIABLE = "CRONHOST_TEST_SERVICE_KEY"


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class HttpRunnerTest(ApiTestCase):
    def setUp(self):
        super().setUp()
        self.service = self.serve(job_service.JobService())

    def http_job(self, name, path, schedule=NEW_YEAR, http="", extra=""):
        self.site.job(name, schedule + f'run:\n  http: {{url: "{self.service.url}{path}"{http}}}\n' + extra)

    def test_success_stores_items_and_the_service_gets_the_job_context(self):
        self.make_site()
        self.http_job("sync", "/jobs/ok", extra="params: {region: eu, batch: 50}\ntrigger_params: {batch: {type: integer}}\n")
        self.start()
        run_id = self.trigger("sync", {"batch": 10}, as_="otto")
        run = self.wait_run(run_id)
        self.assertEqual(run["status"], "succeeded", run)
        self.assertEqual(run["items"], {"processed": 7, "succeeded": 5, "failed": 2})
        self.assertEqual(run["result"], {"success": True, **job_service.ITEMS})
        self.assertIn("answered 200", run["output"])

        call = self.service.wait_calls(1)[0]
        self.assertEqual((call["method"], call["headers"]["content-type"]), ("POST", "application/json"))
        self.assertTrue(call["headers"]["user-agent"].startswith("cronhost/"), call["headers"])
        context = call["context"]
        self.assertEqual(context["jobName"], "sync")
        self.assertEqual(context["executionId"], str(run_id))
        self.assertEqual(instant(context["scheduledFor"]), instant(run["scheduled_for"]))
        self.assertLess(abs(time.time() - instant(context["scheduledFor"]).timestamp()), 30)
        self.assertEqual((context["triggeredBy"], context["triggeredByUser"], context["attempt"]), ("manual", "otto", 1))
        self.assertEqual(context["config"], {"region": "eu", "batch": 10})  # the trigger's params merged over the file's

        self.wait_run(self.trigger("sync"))
        self.assertEqual(self.service.wait_calls(2)[1]["context"]["config"], {"region": "eu", "batch": 50})
        stats = self.call("GET", "/api/jobs/sync/stats")["all"]
        self.assertEqual((stats["runs"], stats["successes"]), (2, 2))
        self.assertEqual(stats["items"], {"processed": 14, "succeeded": 10, "failed": 4})

    def test_a_scheduled_run_is_triggered_by_the_scheduler(self):
        self.make_site()
        self.http_job("tick", "/jobs/ok", schedule=EVERY_SECOND)
        self.start()
        context = self.service.wait_calls(1)[0]["context"]
        self.call("POST", "/api/jobs/tick/disable")
        self.assertEqual((context["triggeredBy"], context["triggeredByUser"], context["attempt"]), ("scheduler", None, 1))
        run = self.wait_run(int(context["executionId"]))
        self.assertEqual((run["trigger"], run["triggered_by"]), ("schedule", None))
        self.assertEqual(instant(context["scheduledFor"]), instant(run["scheduled_for"]))
        self.assertEqual(context["config"], {})

    def test_failures_name_their_reason(self):
        self.make_site()
        closed = free_port()
        for name in ("fail", "down", "garbage", "negative"):
            self.http_job(name, f"/jobs/{name}")
        self.site.job("refused", NEW_YEAR + f'run: {{http: {{url: "http://127.0.0.1:{closed}/jobs/ok"}}}}\n')
        self.start()
        runs = {name: self.wait_run(self.trigger(name)) for name in ("fail", "down", "garbage", "negative", "refused")}
        self.assertTrue(all(r["status"] == "failed" for r in runs.values()), runs)
        self.assertEqual(runs["fail"]["error"], "the service reported failure: " + job_service.FAIL_MESSAGE)
        self.assertIn("answered 503: down for maintenance", runs["down"]["error"])
        self.assertIn("not a JobResult: not JSON (<html>surprise</html>)", runs["garbage"]["error"])
        self.assertIn("itemsProcessed must be a whole number", runs["negative"]["error"])
        self.assertIn(f"127.0.0.1:{closed}", runs["refused"]["error"])
        self.assertEqual([j["name"] for j in self.call("GET", "/api/jobs?status=failed")["jobs"]],
                         ["down", "fail", "garbage", "negative", "refused"])

    def test_a_redirect_to_another_origin_is_refused(self):
        self.make_site()
        self.http_job("elsewhere", "/jobs/elsewhere")
        self.start()
        run = self.wait_run(self.trigger("elsewhere"))
        self.assertEqual(run["status"], "failed", run)
        self.assertIn("redirect to http://127.0.0.2:", run["error"])
        self.assertIn("refused: it leaves http://127.0.0.1:", run["error"])
        self.assertEqual([c["path"] for c in self.service.calls], ["/jobs/elsewhere"])  # never followed

    def test_a_hanging_service_times_out_in_bounded_time(self):
        self.make_site()
        self.http_job("hang", "/jobs/hang", http=", timeout: 1s")
        self.start()
        started = time.monotonic()
        run = self.wait_run(self.trigger("hang"), timeout=10)
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(run["status"], "timed_out", run)
        self.assertIn("timed out after 1000 ms", run["error"])
        self.assertTrue(1000 <= run["duration_ms"] < 3000, run)
        self.assertEqual(self.call("GET", "/health")["running"], 0)

    def test_cancel_aborts_a_call_in_flight(self):
        self.make_site()
        self.http_job("hang", "/jobs/hang", http=", timeout: 20s")
        self.start()
        run_id = self.trigger("hang")
        self.service.wait_calls(1, path="/jobs/hang")
        self.call("POST", f"/api/runs/{run_id}/cancel", expect=202)
        run = self.wait_run(run_id, timeout=5)  # well before the 20 s timeout
        self.assertEqual(run["status"], "cancelled", run)
        self.assertLess(run["duration_ms"], 5000)

    def test_a_retry_carries_the_params_and_user_with_the_next_attempt(self):
        self.make_site()
        self.http_job("flaky", "/jobs/fail", extra="params: {batch: 50}\nretries: {attempts: 2, backoff: 1s}\n"
                                                    "trigger_params: {batch: {type: integer}}\n")
        self.start()
        first_id = self.trigger("flaky", {"batch": 10}, as_="otto")
        first, second = [c["context"] for c in self.service.wait_calls(2)]
        self.assertEqual((first["attempt"], second["attempt"]), (1, 2))
        self.assertEqual((second["triggeredBy"], second["triggeredByUser"]), ("retry", "otto"))
        self.assertEqual(second["config"], {"batch": 10})
        self.assertEqual(second["scheduledFor"], first["scheduledFor"])
        self.assertNotEqual(second["executionId"], first["executionId"])
        self.assertEqual(first["executionId"], str(first_id))
        self.assertEqual(self.wait_run(int(second["executionId"]))["attempt"], 2)
        time.sleep(1.2)  # a third attempt would have come by now (backoff 1 s at most)
        self.assertEqual(len(self.service.calls), 2)

    def test_a_header_from_env_reaches_the_service_and_is_never_shown(self):
        key = "svc-key-" + secrets.token_hex(12)
        os.environ[KEY_VARIABLE] = key  # the daemon inherits it
        self.addCleanup(os.environ.pop, KEY_VARIABLE, None)
        site = self.make_site()
        self.http_job("leaky", "/jobs/leak", http=', method: PUT, headers: {X-Api-Key: "${env:' + KEY_VARIABLE + '}"}')
        self.start()
        run_id = self.trigger("leaky")
        run = self.wait_run(run_id)
        call = self.service.wait_calls(1)[0]
        self.assertEqual((call["method"], call["headers"]["x-api-key"]), ("PUT", key))
        self.assertEqual(run["status"], "failed")
        self.assertIn("is revoked", run["error"])  # the service's message, shown without the key
        for path in (f"/api/runs/{run_id}", "/api/runs", "/api/jobs/leaky", "/api/jobs/leaky/runs"):
            self.assertNotIn(key, self.api.call("GET", path).text, path)
        self.assertNotIn(key, site.log_text())
        self.assertEqual(self.call("GET", "/api/jobs/leaky")["definition"]["runner"]["http"]["headers"]["X-Api-Key"], "***")


if __name__ == "__main__":
    unittest.main()
