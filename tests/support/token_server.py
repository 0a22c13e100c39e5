#!/usr/bin/python3
"""Bearer token issuer for docker-registry token auth (distribution token spec).

GET /token?service=S&scope=repository:NAME:pull,push -> {"token", "access_token", "expires_in",
"issued_at"}: an RS256 JWT whose x5c header carries --cert, which the registry checks against
its rootcertbundle. It grants whatever scope is asked (a real server would intersect it with
the user's rights). With --user/--password the endpoint wants HTTP Basic, like ghcr for
private images. --log FILE gets one JSON line per request.
"""
import argparse
import base64
import json
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from serve import serve_http

A = None
KEY = X5C = None
LOG_LOCK = threading.Lock()


def parse_scopes(values):
    """'repository:acme/app:pull,push' -> {"type", "name", "actions"}; a scope may repeat."""
    access = []
    for value in values:
        for scope in value.split():
            kind, rest = scope.split(":", 1)
            name, actions = rest.rsplit(":", 1)
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
    return access


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def basic_user(self):
        auth = self.headers.get("Authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return None
        return user if (user, password) == (A.user, A.password) else None

    def do_GET(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if url.path != "/token":
            return self.reply(404, {"error": "not found"})
        user = self.basic_user()
        entry = {"time": time.time(), "service": q.get("service", [None])[0],
                 "scope": q.get("scope", []), "account": q.get("account", [None])[0],
                 "auth": self.headers.get("Authorization", "").split(" ")[0] or None,
                 "user": user}
        if A.user and user is None:
            self.record(dict(entry, status=401))
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad login"}]},
                              [("WWW-Authenticate", 'Basic realm="token"')])
        try:
            access = parse_scopes(entry["scope"])
        except ValueError:
            self.record(dict(entry, status=400))
            return self.reply(400, {"errors": [{"code": "INVALID_SCOPE"}]})
        now = int(time.time())
        claims = {"iss": A.issuer, "sub": user or "", "aud": A.service, "iat": now, "nbf": now - 10,
                  "exp": now + A.ttl, "jti": uuid.uuid4().hex, "access": access}
        token = jwt.encode(claims, KEY, algorithm="RS256", headers={"x5c": X5C})
        self.record(dict(entry, status=200))
        issued = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.reply(200, {"token": token, "access_token": token, "expires_in": A.ttl,
                         "issued_at": issued})

    def record(self, entry):
        if A.log:
            with LOG_LOCK, open(A.log, "a") as f:
                f.write(json.dumps(entry) + "\n")


def main():
    global A, KEY, X5C
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--port-file")
    p.add_argument("--key", required=True, help="PEM private key that signs the tokens")
    p.add_argument("--cert", required=True, help="PEM certificate of that key (sent as x5c)")
    p.add_argument("--issuer", default="test-issuer")
    p.add_argument("--service", default="registry.test")
    p.add_argument("--user")
    p.add_argument("--password", default="")
    p.add_argument("--ttl", type=int, default=300,
                   help="token lifetime; below -60 mints tokens the registry already rejects")
    p.add_argument("--log")
    A = p.parse_args()
    with open(A.key, "rb") as f:
        KEY = f.read()
    with open(A.cert, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    X5C = [base64.b64encode(cert.public_bytes(Encoding.DER)).decode()]
    serve_http(Handler, A.listen, A.port_file)


if __name__ == "__main__":
    main()
