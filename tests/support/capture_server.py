"""A loopback HTTP server, in the test's own process, that records every request and answers
like a tolerant S3, so a test can point cronhost's S3 client at it and check what it sent
(the Authorization header against storage_signing.verify_sigv4: s3rver does not check SigV4).
Stdlib only, /usr/bin/python3.

    with CaptureServer() as cap:                 # cap.endpoint http://127.0.0.1:PORT
        ... run cronhost against cap.endpoint ...
        cap.wait_requests(1)
        r = cap.requests[0]                      # Request(method, path, query, headers, body_length, body_sha256)
        ok, expected = verify_sigv4(r.method, r.path, r.query, r.headers, "S3RVER")

Answers, unless `status`/`body` are given (then every request gets them) or `answer` is (a
function Request -> (status, headers dict, body bytes)): PUT 200 with an ETag (the body's
MD5), POST ?uploads an InitiateMultipartUploadResult, POST ?uploadId= a
CompleteMultipartUploadResult, GET ?list-type=2 an empty ListBucketResult, else 200 empty.
Request bodies are read (Content-Length or chunked) and only their length and SHA-256 kept.
"""
import collections
import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

Request = collections.namedtuple("Request", "method path query headers body_length body_sha256")

UPLOAD_ID = "capture-upload-1"
_LIST_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
             "<Name>{bucket}</Name><Prefix>{prefix}</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
             "<IsTruncated>false</IsTruncated></ListBucketResult>")
_INITIATE_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult '
                 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>{bucket}</Bucket><Key>{key}</Key>'
                 "<UploadId>" + UPLOAD_ID + "</UploadId></InitiateMultipartUploadResult>")
_COMPLETE_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult '
                 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>{bucket}</Bucket><Key>{key}</Key>'
                 '<ETag>"capture-etag-1"</ETag></CompleteMultipartUploadResult>')


def s3_answer(request, md5_hex):
    """The tolerant-S3 answer for a path-style request -> (status, headers, body)."""
    query = parse_qs(request.query, keep_blank_values=True)
    bucket, _, key = request.path.lstrip("/").partition("/")
    xml = {"Content-Type": "application/xml"}
    if request.method == "POST" and "uploads" in query:
        return 200, xml, _INITIATE_XML.format(bucket=bucket, key=key).encode()
    if request.method == "POST" and "uploadId" in query:
        return 200, xml, _COMPLETE_XML.format(bucket=bucket, key=key).encode()
    if request.method == "GET" and query.get("list-type") == ["2"]:
        return 200, xml, _LIST_XML.format(bucket=bucket, prefix=query.get("prefix", [""])[0]).encode()
    if request.method == "PUT":
        return 200, {"ETag": '"%s"' % md5_hex}, b""
    return 200, {}, b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body_hashes(self):
        # Only digests are kept: backups under test run to hundreds of MiB.
        sha, md5, n = hashlib.sha256(), hashlib.md5(), 0

        def feed(remaining):
            nonlocal n
            while remaining:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                sha.update(chunk), md5.update(chunk)
                n += len(chunk)
                remaining -= len(chunk)

        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                feed(size)
                self.rfile.readline()
        else:
            feed(int(self.headers.get("Content-Length") or 0))
        return n, sha.hexdigest(), md5.hexdigest()

    def _any(self):
        path, _, query = self.path.partition("?")
        length, sha, md5 = self._body_hashes()
        request = Request(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, length, sha)
        server = self.server.owner
        with server.lock:
            server.requests.append(request)
        if server.answer:
            status, headers, body = server.answer(request)
        elif server.status is not None or server.body is not None:
            status, headers, body = server.status or 200, {}, server.body or b""
        else:
            status, headers, body = s3_answer(request, md5)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any


class CaptureServer:
    def __init__(self, status=None, body=None, answer=None):
        self.status, self.body, self.answer = status, body, answer
        self.requests, self.lock = [], threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def wait_requests(self, n, timeout=10.0):
        """The first n requests once they arrived; AssertionError naming what did after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests[:n])
            time.sleep(0.01)
        raise AssertionError("capture server: %d request(s) after %ss, wanted %d: %s"
                             % (len(self.requests), timeout, n,
                                [(r.method, r.path, r.query) for r in self.requests]))

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
