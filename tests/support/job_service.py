"""A loopback service for the HTTP runner, in a thread of the test: it records each JobContext
it receives and answers by path, so each path is one way a service can behave.

    /jobs/ok       200 JobResult success with item counts (ITEMS)
    /jobs/fail     200 JobResult success=false, error FAIL_MESSAGE
    /jobs/down     503 with a text body
    /jobs/garbage  200 with a body that is not JSON
    /jobs/hang     answers only after HANG_S (or when the service stops)
    /jobs/leak     200 success=false, the error repeats the request's X-Api-Key header
    /jobs/negative 200 success with itemsProcessed -3 (not a JobResult)

    with JobService() as service:
        ...run.http.url: service.url + "/jobs/ok"...
        call = service.wait_calls(1)[0]   # {"method", "path", "headers" (lower-case names), "context"}
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ITEMS = {"itemsProcessed": 7, "itemsSucceeded": 5, "itemsFailed": 2}
FAIL_MESSAGE = "the warehouse is closed today"
HANG_S = 30  # far past any test job's run.http.timeout


class JobService:
    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    context = json.loads(body)
                except ValueError:
                    context = body.decode(errors="replace")
                with service.lock:
                    service.calls.append({"method": self.command, "path": self.path, "headers": headers,
                                          "context": context})
                service.answer(self, headers)

            do_PUT = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def answer(self, handler, headers):
        path = handler.path
        if path == "/jobs/ok":
            return send(handler, 200, json.dumps({"success": True, **ITEMS}))
        if path == "/jobs/fail":
            return send(handler, 200, json.dumps({"success": False, "error": FAIL_MESSAGE}))
        if path == "/jobs/down":
            return send(handler, 503, "down for maintenance", "text/plain")
        if path == "/jobs/garbage":
            return send(handler, 200, "<html>surprise</html>", "text/html")
        if path == "/jobs/hang":
            self.stopping.wait(HANG_S)
            return send(handler, 200, json.dumps({"success": True}))
        if path == "/jobs/leak":
            said = "the key " + headers.get("x-api-key", "") + " is revoked"
            return send(handler, 200, json.dumps({"success": False, "error": said, "key": headers.get("x-api-key")}))
        if path == "/jobs/elsewhere":  # a redirect to another origin (another loopback address)
            handler.send_response(307)
            handler.send_header("Location", f"http://127.0.0.2:{self.server.server_address[1]}/jobs/ok")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if path == "/jobs/negative":
            return send(handler, 200, json.dumps({"success": True, "itemsProcessed": -3}))
        send(handler, 404, json.dumps({"success": False, "error": "no such job path"}))

    def wait_calls(self, n, path=None, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                calls = [c for c in self.calls if path is None or c["path"] == path]
            if len(calls) >= n:
                return calls
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {n} call(s) to {path or 'the service'}")

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.stopping.set()  # a /jobs/hang answer ends now
        self.server.shutdown()
        self.server.server_close()


def send(handler, status, text, content_type="application/json"):
    body = text.encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the host gave up waiting (run.http.timeout): nobody reads the answer
