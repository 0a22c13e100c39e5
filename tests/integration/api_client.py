"""Test support for the admin API: a site whose cronhost.yaml has a server section with one
token per role (read by the daemon as ${file:...}), and a urllib client that answers
(status, parsed body, headers) for every status, errors included."""
import json
import os
import secrets
import urllib.error
import urllib.request

from api_site import ApiSite, SiteTestCase, wait_for

# One token per role; the name is what the API reports as triggered_by, decided_by, actor.
ROLES = {"vera": "viewer", "otto": "operator", "april": "approver", "alice": "admin"}
# A proxy from the environment must never see loopback test traffic.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
FINISHED = ("succeeded", "failed", "timed_out", "skipped", "cancelled", "interrupted")


class Reply:
    def __init__(self, status, text, headers):
        self.status, self.text, self.headers = status, text, headers
        try:
            self.body = json.loads(text) if text else None
        except ValueError:
            self.body = None  # /metrics and the dashboard are not JSON

    def __repr__(self):
        return f"HTTP {self.status} {self.text[:600]}"


class ApiClient:
    def __init__(self, base_url, tokens):
        self.base_url, self.tokens = base_url, tokens

    def call(self, method, path, body=None, as_="alice", raw=None, token=None, authorization=None):
        """as_: a token name, or None for no Authorization header; token: a literal token;
        authorization: the literal header; raw: the literal body."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        secret = token if token is not None else self.tokens.get(as_)
        if authorization is not None:
            headers["Authorization"] = authorization
        elif secret:
            headers["Authorization"] = f"Bearer {secret}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with OPENER.open(request, timeout=15) as response:
                return Reply(response.status, response.read().decode(), response.headers)
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode(), error.headers)


class ApiTestCase(SiteTestCase):
    """A site with the API on a free port: self.make_site(...), self.start(), self.call(...)."""

    def tearDown(self):
        super().tearDown()  # kills a daemon still running
        log = getattr(self.site, "log", None)
        if log:
            log.close()

    def make_site(self, server_extra="", config=""):
        site = self.site = ApiSite(config)
        self.tokens = {name: secrets.token_hex(16) for name in ROLES}
        lines = []
        for name, role in ROLES.items():
            site.write(f"tokens/{name}", self.tokens[name] + "\n")
            lines.append(f'    - {{name: {name}, role: {role}, token: "${{file:{site.root}/tokens/{name}}}"}}\n')
        # Replaces the server section Site added by default with one that has the tokens.
        site.write("cronhost.yaml", f'workers: 2\nshutdown_grace: 2s\n{config}server:\n  listen: "127.0.0.1:0"\n'
                   f'  port_file: "{site.port_file}"\n  tokens:\n' + "".join(lines) + server_extra)
        return site

    def start(self):
        """Starts (or restarts) the daemon and points self.api at the port it bound."""
        if os.path.exists(self.site.port_file):
            os.remove(self.site.port_file)
        self.site.start()
        port = wait_for(self.read_port, timeout=10, what="the API's port file")
        self.api = ApiClient(f"http://127.0.0.1:{port}", self.tokens)
        # Healthy: the scheduler loop runs and the state file can be written.
        wait_for(lambda: self.api.call("GET", "/health").status == 200, timeout=10, what="a healthy host")
        return self.api

    def read_port(self):
        try:
            with open(self.site.port_file) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def call(self, method, path, body=None, expect=200, **kwargs):
        """One request that must answer `expect`; returns the parsed body."""
        reply = self.api.call(method, path, body, **kwargs)
        self.assertEqual(reply.status, expect, f"{method} {path}: {reply}")
        return reply.body

    def assert_error(self, reply, status, code, *words):
        self.assertEqual(reply.status, status, reply)
        self.assertEqual(reply.body["error"]["code"], code, reply)
        for word in words:
            self.assertIn(word, reply.body["error"]["message"], reply)

    def trigger(self, job, params=None, as_="alice"):
        body = None if params is None else {"params": params}
        return self.call("POST", f"/api/jobs/{job}/trigger", body, expect=202, as_=as_)["run_id"]

    def wait_run(self, run_id, timeout=15):
        """The run's detail once it has finished."""
        def finished():
            run = self.call("GET", f"/api/runs/{run_id}")
            return run if run["status"] in FINISHED else None
        return wait_for(finished, timeout=timeout, interval=0.1, what=f"run {run_id} to finish")
