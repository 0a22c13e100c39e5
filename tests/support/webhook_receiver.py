"""A loopback webhook receiver for cronhost's webhook delivery tests: it answers each POST as
its path says, checks the X-Cronhost-Signature as a real receiver would (HMAC-SHA256 of
"<timestamp>.<body>" under the shared secret, and the timestamp no older than 5 minutes),
and appends what it received to a JSON-lines log. Stdlib only, /usr/bin/python3.

    webhook_receiver.py --log FILE [--secret SECRET]
prints {"port": N} once listening on 127.0.0.1:N, and exits when its stdin closes.

Paths:  /ok 200 · /bad 400 · /flaky/N 500 for the first N requests, then 200 · /busy 429 ·
/slow/MS 200 after MS milliseconds · /away 302 to 127.0.0.2 (another host) ·
/moved 307 to /ok on the same host.
Each log line: {"path", "status", "delivery", "event", "timestamp", "signature",
"signature_ok" (null without --secret), "content_type", "body" (text)}.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300


def verify(secret, timestamp, body, signature, now=None):
    """What a receiver does: the signature over "<timestamp>.<body>", compared in constant time,
    and a fresh timestamp (an old one is a replay)."""
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = timestamp.isdigit() and abs((now or time.time()) - int(timestamp)) <= TOLERANCE_SECONDS
    return hmac.compare_digest(expected, signature) and fresh


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--secret", default="")
    args = parser.parse_args()
    lock = threading.Lock()
    counts = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def answer(self, status, headers=None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            text = b"receiver says %d" % status
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            parts = self.path.strip("/").split("/")
            with lock:
                counts[self.path] = counts.get(self.path, 0) + 1
                seen = counts[self.path]
            status, headers = 200, {}
            if parts[0] == "bad":
                status = 400
            elif parts[0] == "busy":
                status = 429
            elif parts[0] == "flaky" and seen <= int(parts[1]):
                status = 500
            elif parts[0] == "slow":
                time.sleep(int(parts[1]) / 1000)
            elif parts[0] == "away":
                status, headers = 302, {"Location": "http://127.0.0.2:%d/ok" % self.server.server_address[1]}
            elif parts[0] == "moved":
                status, headers = 307, {"Location": "/ok"}
            timestamp = self.headers.get("X-Cronhost-Timestamp", "")
            signature = self.headers.get("X-Cronhost-Signature", "")
            entry = {
                "path": self.path, "status": status,
                "delivery": self.headers.get("X-Cronhost-Delivery"), "event": self.headers.get("X-Cronhost-Event"),
                "timestamp": timestamp, "signature": signature,
                "signature_ok": verify(args.secret, timestamp, body, signature) if args.secret else None,
                "content_type": self.headers.get("Content-Type"),
                "authorization": self.headers.get("Authorization"),
                "body": body.decode("utf-8", "replace"),
            }
            with lock, open(args.log, "a") as log:
                log.write(json.dumps(entry) + "\n")
            self.answer(status, headers)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    sys.stdin.read()  # until the test closes our stdin (or dies)
    os._exit(0)


if __name__ == "__main__":
    main()
