"""The OCI image end to end, under podman: the container the Dockerfile makes serves /health,
runs a job triggered over the API (inline and in the plugin runner), runs as a non-root user,
keeps its state 0600 in the state volume, reaps orphans as PID 1, and stops on SIGTERM with
exit 0 within the grace period.

`make test-image` builds the image first and passes it as CRONHOST_IMAGE (and the commit it
was built from as CRONHOST_COMMIT). The runtime is runc, host network and explicit ulimits:
crun cannot run on this machine's cgroups (see the README's image section)."""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

IMAGE = os.environ.get("CRONHOST_IMAGE", "localhost/cronhost:test")
COMMIT = os.environ.get("CRONHOST_COMMIT", "")
PODMAN = ["podman", "--runtime", "runc"]
RUN_FLAGS = ["--network=host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
GRACE_S = 10  # shutdown_grace is 30s by default; nothing runs at stop, so exit is prompt
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
FINISHED = ("succeeded", "failed", "timed_out", "skipped", "cancelled", "interrupted")

JOBS = {
    # Never due during the test: only the API triggers it.
    "hello.yaml": "schedule: {cron: '0 3 1 1 *'}\nrun: {lua: scripts/hello.lua}\ntimeout: 20s\n",
    "hello-isolated.yaml":
        "schedule: {cron: '0 3 1 1 *'}\nrun: {lua: scripts/hello.lua, isolation: process}\ntimeout: 20s\n",
}
SCRIPTS = {"hello.lua": 'log.info("hello from the container")\nreturn { greeting = "hello", n = 42 }\n'}


def podman(*args, check=True, timeout=120):
    return subprocess.run(PODMAN + list(args), capture_output=True, text=True, check=check, timeout=timeout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_tree(root, files):
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)  # the container's user (uid 10001) reads the mounted files
    for name, text in files.items():
        path = os.path.join(root, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)


class ImageTest(unittest.TestCase):
    """One container for the whole class; test_9 stops it (unittest runs methods by name)."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("podman") is None:
            raise unittest.SkipTest("podman is not installed: run `make image-deps`")
        if podman("image", "exists", IMAGE, check=False).returncode != 0:
            raise AssertionError(f"image {IMAGE} not found: `make test-image` builds it")
        cls.dir = tempfile.mkdtemp(prefix="cronhost-image-")
        os.chmod(cls.dir, 0o755)
        write_tree(os.path.join(cls.dir, "jobs.d"), JOBS)
        write_tree(os.path.join(cls.dir, "scripts"), SCRIPTS)
        cls.token = secrets.token_urlsafe(24)
        cls.port = free_port()
        cls.name = f"cronhost-test-{os.getpid()}"
        cls.volume = f"{cls.name}-state"
        podman("volume", "create", cls.volume)
        started = time.monotonic()
        podman("run", "-d", "--name", cls.name, *RUN_FLAGS,
               "-e", f"CRONHOST_LISTEN=127.0.0.1:{cls.port}", "-e", f"CRONHOST_ADMIN_TOKEN={cls.token}",
               "-v", f"{cls.dir}/jobs.d:/etc/cronhost/jobs.d:ro",
               "-v", f"{cls.dir}/scripts:/etc/cronhost/scripts:ro",
               "-v", f"{cls.volume}:/var/lib/cronhost", IMAGE)
        deadline = time.monotonic() + 30
        while True:
            status, _ = cls.call("GET", "/health", token=None)
            if status == 200:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"no /health 200 within 30 s; last {status}; logs:\n{cls.logs()}")
            time.sleep(0.05)
        cls.start_to_health_s = time.monotonic() - started
        print(f"\n[figures] container start to /health 200: {cls.start_to_health_s:.2f} s", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        podman("rm", "-f", "-v", "-t", "0", cls.name, check=False)
        podman("volume", "rm", "-f", cls.volume, check=False)
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def logs(cls):
        done = podman("logs", cls.name, check=False)
        return (done.stdout + done.stderr)[-4000:]

    @classmethod
    def call(cls, method, path, body=None, token=""):
        token = cls.token if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"http://127.0.0.1:{cls.port}{path}", data=data, method=method,
                                         headers=headers)
        try:
            with OPENER.open(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except OSError:
            return None, None  # not listening yet

    def trigger_and_wait(self, job):
        status, body = self.call("POST", f"/api/jobs/{job}/trigger", {})
        self.assertEqual(status, 202, body)
        run_id = body["run_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, run = self.call("GET", f"/api/runs/{run_id}")
            self.assertEqual(status, 200, run)
            if run["status"] in FINISHED:
                return run
            time.sleep(0.1)
        self.fail(f"run {run_id} of {job} did not finish within 30 s; logs:\n{self.logs()}")

    def test_1_health_is_open_and_the_health_check_passes(self):
        status, body = self.call("GET", "/health", token=None)
        self.assertEqual((status, body["status"]), (200, "ok"), body)
        self.assertEqual(body["jobs"], 2, body)
        # The image's HEALTHCHECK (curl inside the container), run once by podman.
        done = podman("healthcheck", "run", self.name, check=False)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_2_a_job_triggered_over_the_api_runs(self):
        status, _ = self.call("POST", "/api/jobs/hello/trigger", {}, token=None)
        self.assertEqual(status, 401)
        run = self.trigger_and_wait("hello")
        self.assertEqual(run["status"], "succeeded", run)
        self.assertEqual(run["result"], {"greeting": "hello", "n": 42}, run)
        self.assertIn("hello from the container", json.dumps(run["output"]), run)

    def test_3_an_isolated_job_runs_in_the_plugin_runner(self):
        run = self.trigger_and_wait("hello-isolated")
        self.assertEqual(run["status"], "succeeded", f"{run}\nlogs:\n{self.logs()}")
        self.assertEqual(run["result"], {"greeting": "hello", "n": 42}, run)

    def test_4_version_names_the_commit(self):
        done = podman("run", "--rm", *RUN_FLAGS, IMAGE, "--version")
        self.assertIn("cronhost ", done.stdout)
        self.assertTrue(COMMIT, "CRONHOST_COMMIT (the commit the image was built from) is not set")
        self.assertIn(f"(commit {COMMIT})", done.stdout)

    def test_5_the_daemon_runs_as_a_non_root_user_under_tini(self):
        done = podman("top", self.name, "pid", "user", "args")
        rows = [line.split(None, 2) for line in done.stdout.splitlines()[1:]]
        by_pid = {row[0]: row for row in rows}
        self.assertIn("tini", by_pid["1"][2], done.stdout)
        daemon = [row for row in rows if row[2].startswith("/usr/bin/cronhost run")]
        self.assertEqual(len(daemon), 1, done.stdout)
        self.assertNotIn(daemon[0][1], ("root", "0"), done.stdout)
        self.assertEqual(podman("exec", self.name, "id", "-u").stdout.strip(), "10001")

    def test_6_state_files_are_private(self):
        mountpoint = podman("volume", "inspect", "--format", "{{.Mountpoint}}", self.volume).stdout.strip()
        names = sorted(os.listdir(mountpoint))
        self.assertIn("state.db", names)
        for name in names:
            path = os.path.join(mountpoint, name)
            if os.path.isfile(path):
                mode = os.stat(path).st_mode & 0o777
                self.assertEqual(mode & 0o077, 0, f"{name} is {oct(mode)}; the state holds run output")

    def test_7_orphans_are_reaped(self):
        # A process whose parent exits is re-parented to PID 1 of the container; once it ends,
        # only an init that waits for it keeps it from staying a zombie.
        podman("exec", self.name, "sh", "-c", "(sleep 0.5 &) ; exit 0")
        time.sleep(2)
        stats = podman("exec", self.name, "sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null").stdout
        zombies = [line for line in stats.splitlines() if line.rsplit(")", 1)[-1].split()[0] == "Z"]
        self.assertEqual(zombies, [], stats)

    def test_9_sigterm_stops_with_exit_0_within_the_grace(self):
        started = time.monotonic()
        podman("stop", "-t", str(GRACE_S), self.name, timeout=GRACE_S + 30)
        elapsed = time.monotonic() - started
        code = podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip()
        print(f"\n[figures] podman stop (SIGTERM) to exit: {elapsed:.2f} s", file=sys.stderr)
        self.assertEqual(code, "0", self.logs())
        self.assertLess(elapsed, GRACE_S, "podman had to SIGKILL: SIGTERM was not handled")
        self.assertIn("signal=SIGTERM", self.logs())  # cronhost's own "stopping" line: tini passed it on


if __name__ == "__main__":
    unittest.main()
