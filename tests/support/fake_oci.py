#!/usr/bin/python3
"""Stand-in OCI registry for tag listing: spec pagination and a ghcr-like Bearer flow.

docker-registry 2.8.2 ignores n/last on tags/list, so pagination is tested against this.
Serves GET /v2/ and GET /v2/<repo>/tags/list (n, last, Link rel="next"); with --bearer also
the anonymous GET /token that ghcr has (no expires_in in the answer). --log FILE gets one JSON
line per request.
"""
import argparse
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, quote, urlsplit

from serve import serve_http

A = None
TOKENS = {}  # token -> (repository it grants, monotonic time it was issued)
LOCK = threading.Lock()


def serving_order():
    tags = sorted(A.tags.split(",")) if A.tags else []
    return tags[::-1] if A.unsorted else tags  # --unsorted: a client must not rely on order


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        if A.log:
            entry = {"time": time.time(), "method": self.command, "path": self.path, "status": code,
                     "authorization": "Authorization" in self.headers,
                     "auth_scheme": self.headers.get("Authorization", " ").split(" ")[0] or None}
            with LOCK, open(A.log, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def base_url(self):
        host, port = self.server.server_address[:2]
        return "http://%s:%d" % (host, port)

    def error(self, code, err, message):
        self.reply(code, {"errors": [{"code": err, "message": message}]})

    def authorized(self, repo):
        """True if the request may read repo; otherwise the 401 has been sent."""
        if not A.bearer:
            return True
        challenge = 'Bearer realm="%s/token",service="fake-registry",scope="repository:%s:pull"' % (
            self.base_url(), repo)
        auth = self.headers.get("Authorization", "")
        if not auth:
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                       [("WWW-Authenticate", challenge)])
            return False
        granted = TOKENS.get(auth[7:]) if auth.startswith("Bearer ") else None
        fresh = granted and (A.token_lifetime is None
                             or time.monotonic() - granted[1] < A.token_lifetime)
        if not fresh:
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid token"}]},
                       [("WWW-Authenticate", challenge + ',error="invalid_token"')])
            return False
        if granted[0] != repo:
            self.reply(401, {"errors": [{"code": "DENIED", "message": "insufficient scope"}]},
                       [("WWW-Authenticate", challenge + ',error="insufficient_scope"')])
            return False
        return True

    def do_GET(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if url.path == "/token" and A.bearer:
            m = re.fullmatch(r"repository:(.+):pull", q.get("scope", [""])[0])
            if not m:  # ghcr also refuses anonymous tokens for a placeholder or empty scope
                return self.error(403, "DENIED", "requested access to the resource is denied")
            token = secrets.token_urlsafe(24)
            with LOCK:
                TOKENS[token] = (m.group(1), time.monotonic())
            return self.reply(200, {"token": token})
        if url.path == "/v2/":
            if self.authorized(A.repo):
                self.reply(200, {})
            return
        m = re.fullmatch(r"/v2/(.+)/tags/list", url.path)
        if not m:
            return self.error(404, "NOT_FOUND", "no such endpoint")
        repo = m.group(1)
        if A.status:
            return self.error(A.status, "UNAVAILABLE", "status forced by --status")
        if not self.authorized(repo):
            return
        if repo != A.repo:
            return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        self.list_tags(repo, q)

    def list_tags(self, repo, q):
        order = serving_order()
        last = q.get("last", [None])[0]
        if last is None:
            rest = order
        elif last in order:
            rest = order[order.index(last) + 1:]
        else:
            rest = [t for t in order if t > last]
        try:
            limits = [int(q["n"][0])] if "n" in q else []
        except ValueError:
            return self.error(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested")
        if A.page_size:
            limits.append(A.page_size)  # imposed even when the client asks for more, like ghcr
        headers = []
        if limits:
            n = min(limits)
            if 0 < n < len(rest):
                link = "/v2/%s/tags/list?n=%d&last=%s" % (repo, n, quote(rest[n - 1], safe=""))
                if A.absolute_links:
                    link = self.base_url() + link
                headers.append(("Link", '<%s>; rel="next"' % link))
            rest = rest[:n]
        self.reply(200, {"name": repo, "tags": rest}, headers)


def main():
    global A
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--port-file")
    p.add_argument("--repo", default="acme/app")
    p.add_argument("--tags", default="", help="comma-separated; served in lexical order")
    p.add_argument("--unsorted", action="store_true", help="serve tags in reverse lexical order")
    p.add_argument("--page-size", type=int, help="n imposed by the server even if the client asks none")
    p.add_argument("--bearer", action="store_true", help="require a ghcr-like anonymous Bearer token")
    p.add_argument("--token-lifetime", type=float, help="seconds a token stays valid (default: forever)")
    p.add_argument("--absolute-links", action="store_true")
    p.add_argument("--status", type=int, help="answer tags/list with this status (e.g. 503)")
    p.add_argument("--log")
    A = p.parse_args()
    serve_http(Handler, A.listen, A.port_file)


if __name__ == "__main__":
    main()
