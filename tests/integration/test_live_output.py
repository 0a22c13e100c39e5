"""Live output of a running run: GET /api/runs/{id}/output/stream (server-sent events) from
the real daemon while Lua jobs print slowly, inline and in an isolated child process:
pieces arrive before the run ends, `end` carries the status, a reconnect with Last-Event-ID
repeats nothing, secrets are redacted, tokens are required, the stream count is capped, and
a run's attempts are grouped under its first."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
os.environ.setdefault("CRONHOST_BIN", os.path.join(HERE, "..", "..", "build", "cronhost"))

from api_client import ApiTestCase, wait_for  # noqa: E402
from sse_client import SseStream  # noqa: E402

NEW_YEAR = '{cron: "0 0 1 1 *"}'  # never due during a test: runs are triggered by hand
SECRET = "tok-live-7f3a9c"
# Five lines 0.6 s apart, one naming a secret param, then a result.
SLOW_PRINTER = """
for i = 1, 5 do
  print("line " .. i .. " key=" .. job.params.key)
  sleep(0.6)
end
log.info("done printing")
return {lines = 5}
"""


def stream_path(run_id):
    return f"/api/runs/{run_id}/output/stream"


class LiveOutputTest(ApiTestCase):
    def start_site(self, isolation="inline", server_extra=""):
        site = self.make_site(server_extra=server_extra)
        site.write("key.txt", SECRET + "\n")
        run = "{lua: scripts/printer.lua" + (", isolation: process}" if isolation == "process" else "}")
        site.job("printer", f'schedule: {NEW_YEAR}\nrun: {run}\ntimeout: 30s\n'
                            f'params: {{key: "${{file:{site.root}/key.txt}}"}}\n', SLOW_PRINTER)
        self.start()
        self.port = int(self.api.base_url.rsplit(":", 1)[1])
        return site

    def open(self, run_id, as_="vera", **kwargs):
        stream = SseStream("127.0.0.1", self.port, stream_path(run_id), token=self.tokens.get(as_), **kwargs)
        self.addCleanup(stream.close)
        return stream

    def read_all(self, stream):
        return list(stream.events())

    def assert_streams_while_running(self, isolation):
        self.start_site(isolation)
        run_id = self.trigger("printer")
        stream = self.open(run_id)
        self.assertEqual(stream.status, 200, stream.body() if stream.status != 200 else "")
        self.assertEqual(stream.headers["Content-Type"], "text/event-stream")
        events, status_at_first_line = [], None
        for event in stream.events():
            events.append(event)
            if status_at_first_line is None and event[0] == "output" and "line 1" in event[2]["text"]:
                status_at_first_line = self.call("GET", f"/api/runs/{run_id}")["status"]
        names = [e[0] for e in events]
        self.assertEqual(names[-1], "end", events)
        self.assertEqual(events[-1][2], {"status": "succeeded", "error": None})
        # The first line came while the run still ran, seconds before its end (the state may
        # not have its start yet: the store writes it behind the run).
        self.assertIn(status_at_first_line, ("queued", "running"), events)
        first = next(e for e in events if e[0] == "output")
        self.assertLess(first[3], events[-1][3] - 1.5, events)
        self.assertGreaterEqual(names.count("output"), 3, events)  # pieces, not one lump at the end
        ids = [e[1] for e in events if e[0] == "output"]
        self.assertEqual(ids, sorted(ids), events)
        text = "".join(e[2]["text"] for e in events if e[0] == "output")
        self.assertEqual(ids[-1], len(text.encode()))  # ids are byte offsets
        self.assertNotIn(SECRET, text)
        self.assertIn("line 1 key=***", text)
        self.assertIn("[info] done printing", text)
        self.assertEqual(stream.retry, 500)
        run = self.call("GET", f"/api/runs/{run_id}")
        self.assertEqual(run["output"], text, "the streamed text differs from the stored output")
        return run_id, text

    def test_output_streams_while_an_inline_run_prints(self):
        run_id, text = self.assert_streams_while_running("inline")
        # A finished run: its stored output and `end`, at once.
        events = self.read_all(self.open(run_id))
        self.assertEqual([e[0] for e in events], ["output", "end"], events)
        self.assertEqual(events[0][2]["text"], text)
        self.assertEqual(events[0][1], len(text.encode()))
        # From an offset: only what follows it.
        events = self.read_all(self.open(run_id, last_event_id=7))
        self.assertEqual(events[0][2]["text"], text.encode()[7:].decode())
        # Past the end: only `end`.
        events = self.read_all(self.open(run_id, last_event_id=len(text.encode())))
        self.assertEqual([e[0] for e in events], ["end"], events)

    def test_output_streams_while_an_isolated_run_prints(self):
        self.assert_streams_while_running("process")

    def test_a_reconnect_with_last_event_id_repeats_nothing(self):
        self.start_site()
        run_id = self.trigger("printer")
        first = self.open(run_id)
        seen = []
        for event in first.events():
            seen.append(event)
            if "line 2" in "".join(e[2].get("text", "") for e in seen if e[0] == "output"):
                break
        first.close()  # the client goes away mid-run
        last_id = [e for e in seen if e[0] == "output"][-1][1]
        second = self.read_all(self.open(run_id, last_event_id=last_id))
        self.assertEqual(second[-1][0], "end", second)
        text = "".join(e[2]["text"] for e in seen + second if e[0] == "output")
        run = self.call("GET", f"/api/runs/{run_id}")
        self.assertEqual(text, run["output"])  # each byte once, in order
        self.assertEqual(text.count("line 2"), 1)
        # ?offset= does the same for clients that cannot set the header.
        by_offset = SseStream("127.0.0.1", self.port, stream_path(run_id) + f"?offset={last_id}", token=self.tokens["vera"])
        self.addCleanup(by_offset.close)
        again = self.read_all(by_offset)
        self.assertEqual("".join(e[2]["text"] for e in again if e[0] == "output"), text.encode()[last_id:].decode())

    def test_the_stream_needs_a_token_and_a_known_run(self):
        self.start_site()
        run_id = self.trigger("printer")
        anonymous = SseStream("127.0.0.1", self.port, stream_path(run_id))
        self.addCleanup(anonymous.close)
        self.assertEqual(anonymous.status, 401, anonymous.body())
        bad = SseStream("127.0.0.1", self.port, stream_path(run_id), token="not-a-token-of-this-host")
        self.addCleanup(bad.close)
        self.assertEqual(bad.status, 401)
        missing = self.open(run_id + 1000)
        self.assertEqual(missing.status, 404)
        self.assertIn(f"no run {run_id + 1000}", missing.body())
        garbage = self.open(run_id, last_event_id="-3")
        self.assertEqual(garbage.status, 400)
        self.assertIn("Last-Event-ID=-3", garbage.body())
        for role in ("vera", "otto", "april", "alice"):  # reading is every role's
            stream = self.open(run_id, as_=role)
            self.assertEqual(stream.status, 200, role)
            stream.close()
        self.wait_run(run_id)

    def test_a_chatty_run_keeps_its_newest_output_and_says_what_was_dropped(self):
        site = self.start_site()
        # 100 KiB at once (over the 64 KiB kept live), then a pause, then a last line.
        site.job("chatty", f"schedule: {NEW_YEAR}\nrun: {{lua: scripts/chatty.lua}}\n",
                 'for i = 1, 1000 do print(string.format("%04d ", i) .. string.rep("x", 94)) end\n'
                 'sleep(2)\nprint("the tail")\n')
        site.hup()
        run_id = wait_for(lambda: self.api.call("POST", "/api/jobs/chatty/trigger").body.get("run_id"),
                          what="chatty to be triggered")
        wait_for(lambda: self.call("GET", f"/api/runs/{run_id}")["status"] == "running", what="chatty to run")
        time.sleep(0.5)  # inside its sleep(2): the burst is out
        events = self.read_all(self.open(run_id))
        names = [e[0] for e in events]
        self.assertEqual(names[0], "dropped", events[:2])
        dropped = events[0][2]["bytes"]
        text = "".join(e[2]["text"] for e in events if e[0] == "output")
        self.assertEqual(dropped + len(text.encode()), 100_000 + len("the tail\n"))
        self.assertTrue(text.endswith("1000 " + "x" * 94 + "\nthe tail\n"), text[-200:])
        self.assertEqual(names[-1], "end")
        run = self.call("GET", f"/api/runs/{run_id}")
        self.assertTrue(run["output_truncated"])  # the stored copy keeps the head, as before

    def test_streams_are_capped_at_half_the_threads_and_the_api_still_answers(self):
        self.start_site(server_extra="  threads: 4\n")
        run_id = self.trigger("printer")
        streams = [self.open(run_id) for _ in range(2)]
        self.assertEqual([s.status for s in streams], [200, 200])
        third = self.open(run_id)
        self.assertEqual(third.status, 503)
        self.assertEqual(third.headers["Retry-After"], "5")
        self.assertIn("already 2 output streams open", third.body())
        self.assertEqual(self.api.call("GET", "/health").status, 200)
        self.assertEqual(self.api.call("GET", f"/api/runs/{run_id}", as_="vera").status, 200)
        for s in streams:
            self.assertEqual(self.read_all(s)[-1][0], "end")
        # The slots are free again once those streams ended.
        wait_for(lambda: self.open(run_id).status == 200, timeout=5, what="a stream slot")

    def test_attempts_are_grouped_under_the_first(self):
        site = self.start_site()
        site.job("flaky", f"schedule: {NEW_YEAR}\nrun: {{lua: scripts/flaky.lua}}\n"
                          "retries: {attempts: 3, backoff: 1s}\n",
                 'print("attempt " .. job.attempt) if job.attempt < 3 then error("not yet") end return true\n')
        site.hup()
        first = wait_for(lambda: self.api.call("POST", "/api/jobs/flaky/trigger").body.get("run_id"),
                         what="flaky to be triggered")

        def third_attempt():
            runs = self.call("GET", "/api/jobs/flaky/runs")["runs"]
            done = [r for r in runs if r["attempt"] == 3 and r["status"] == "succeeded"]
            return done[0] if done else None
        last = wait_for(third_attempt, timeout=20, interval=0.2, what="the third attempt")
        self.assertEqual(last["first_run_id"], first)
        for run_id in (first, last["id"]):
            run = self.call("GET", f"/api/runs/{run_id}")
            self.assertEqual([a["attempt"] for a in run["attempts"]], [1, 2, 3], run["attempts"])
            self.assertEqual(run["attempts"][0]["id"], first)
            self.assertEqual([a["status"] for a in run["attempts"]], ["failed", "failed", "succeeded"])
        events = self.read_all(self.open(last["id"]))
        self.assertEqual(events[-1][2]["status"], "succeeded")
        self.assertIn("attempt 3", events[0][2]["text"])


class LongStreamTest(ApiTestCase):
    """A stream closes itself inside the connection guard's 30 s and the client resumes."""

    def test_a_stream_closes_before_the_guard_deadline_and_resumes(self):
        site = self.make_site()
        site.lua_job("ticker", 'for i = 1, 32 do print("tick " .. i) sleep(1) end\n', schedule=NEW_YEAR,
                     extra="timeout: 60s\n")
        self.start()
        port = int(self.api.base_url.rsplit(":", 1)[1])
        run_id = self.trigger("ticker")
        first = SseStream("127.0.0.1", port, stream_path(run_id), token=self.tokens["vera"], timeout=40)
        self.addCleanup(first.close)
        events = list(first.events())
        self.assertNotIn("end", [e[0] for e in events])  # closed by the host, without `end`
        self.assertTrue(23 <= events[-1][3] <= 29, events[-1])
        last_id = [e for e in events if e[0] == "output"][-1][1]
        second = SseStream("127.0.0.1", port, stream_path(run_id), token=self.tokens["vera"], last_event_id=last_id)
        self.addCleanup(second.close)
        rest = list(second.events())
        self.assertEqual(rest[-1][2]["status"], "succeeded")
        text = "".join(e[2]["text"] for e in events + rest if e[0] == "output")
        self.assertEqual(text, "".join(f"tick {i}\n" for i in range(1, 33)))


if __name__ == "__main__":
    unittest.main()
