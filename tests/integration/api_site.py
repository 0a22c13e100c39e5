"""Test support for the host APIs: a Site whose jobs run through `cronhost dry-run --json`
(reads performed, effects captured) or through the real daemon, beside real servers."""
import json
import os
import sys
import tempfile
import unittest

from daemon_site import Site, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import services  # noqa: E402  (the real servers: SMTP sink, docker-registry, token issuer, ...)


class ApiSite(Site):
    def __init__(self, config=""):
        super().__init__("workers: 2\nshutdown_grace: 2s\n" + config)
        self.tmp = tempfile.mkdtemp(prefix="servers-", dir=self.root)

    def lua_job(self, name, script, allow="", schedule="{every: 1h}", extra=""):
        self.job(name, f"schedule: {schedule}\nrun: {{lua: scripts/{name}.lua}}\n{extra}"
                       + (f"allow:\n{allow}" if allow else ""), script)

    def dry_run(self, job, *args):
        """Runs `cronhost dry-run JOB --json`; returns the parsed outcome."""
        p = self.cli("dry-run", job, "--jobs", os.path.join(self.root, "jobs.d"),
                     "--config", os.path.join(self.root, "cronhost.yaml"), "--json", *args)
        if not p.stdout.strip().startswith("{"):
            raise AssertionError(f"dry-run printed no JSON (rc {p.returncode}):\n{p.stdout}\n{p.stderr}")
        return json.loads(p.stdout)

    def output_lines(self, outcome):
        return outcome["output"].splitlines()

    def wait_run(self, job, n=1, timeout=15):
        """Waits for n finished runs of `job`; returns them."""
        def finished():
            runs = [r for r in self.runs(job) if r["status"] not in ("queued", "running")]
            return runs if len(runs) >= n else None
        return wait_for(finished, timeout=timeout, what=f"{n} finished run(s) of {job}")


class SiteTestCase(unittest.TestCase):
    """A test with one site (self.site) and the real servers it started (serve()): all are
    stopped and removed after the test, whatever happened."""

    def setUp(self):
        self.site = None
        self.servers = []

    def tearDown(self):
        if self.site:
            self.site.kill_if_running()
        for server in reversed(self.servers):
            server.stop()
        if self.site:
            self.site.cleanup()

    def serve(self, server):
        self.servers.append(server.__enter__())
        return server
