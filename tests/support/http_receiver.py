#!/usr/bin/python3
"""Loopback HTTP server that records every request as a JSON line in --log FILE.

Record: {"time", "method", "path", "query" (parse_qs), "headers" (names lower-cased),
"body" (text, or "body_b64" when not UTF-8)}. Each line is flushed before the answer is sent.
Any other path gets --status/--body (default 200 {"ok":true}) after --delay seconds.
Fixed routes (any method unless noted): GET /big?bytes=N, GET /redirect?n=K (K 302s, then
/json), GET /json, /status/CODE, /echo (the request's method, headers and body as JSON).
"""
import argparse
import base64
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from serve import serve_http

A = None
LOG_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send(self, code, body=b"", ctype="application/json", headers=()):
        self.send_response(code)
        if code not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and code not in (204, 304):
            self.wfile.write(body)

    def handle_any(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query, keep_blank_values=True)
        body = self.read_body()
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        entry = {"time": time.time(), "method": self.command, "path": url.path, "query": q,
                 "headers": headers}
        try:
            entry["body"] = body.decode()
        except UnicodeDecodeError:
            entry["body_b64"] = base64.b64encode(body).decode()
        if A.log:
            with LOG_LOCK, open(A.log, "a") as f:
                f.write(json.dumps(entry) + "\n")
        if A.delay:
            time.sleep(A.delay)

        status = re.fullmatch(r"/status/(\d{3})", url.path)
        if status:
            return self.send(int(status.group(1)), json.dumps({"status": int(status.group(1))}).encode())
        if url.path == "/echo":
            echo = {k: entry.get(k) for k in ("method", "path", "query", "headers", "body", "body_b64")}
            return self.send(200, json.dumps(echo).encode())
        if self.command in ("GET", "HEAD"):
            if url.path == "/json":
                return self.send(200, b'{"hello":"world","n":[1,2,3]}')
            if url.path == "/big":
                n = int(q.get("bytes", ["0"])[0])
                return self.send_big(n)
            if url.path == "/redirect":
                n = int(q.get("n", ["1"])[0])
                if n <= 0:
                    return self.send(200, b'{"hello":"world","n":[1,2,3]}')
                target = "/redirect?n=%d" % (n - 1) if n > 1 else "/json"
                return self.send(302, b"", "text/plain", [("Location", target)])
        self.send(A.status, A.body.encode(), A.content_type)

    def send_big(self, n):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        block = b"x" * 65536
        while n > 0:
            self.wfile.write(block[:n])
            n -= len(block)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any


def main():
    global A
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--body", default='{"ok":true}')
    p.add_argument("--content-type", help="default: application/json if --body parses as JSON")
    p.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    A = p.parse_args()
    if not A.content_type:
        try:
            json.loads(A.body)
            A.content_type = "application/json"
        except ValueError:
            A.content_type = "text/plain; charset=utf-8"
    serve_http(Handler, A.listen, A.port_file)


if __name__ == "__main__":
    main()
