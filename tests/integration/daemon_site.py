"""Test support: a cronhost daemon on a temporary site (jobs.d, scripts, state file).

Starts the real `cronhost run` as a child process and reads the real state file."""
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
import shutil

BIN = os.environ.get("CRONHOST_BIN", "build/cronhost")


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Site:
    """A folder with jobs.d/, scripts/ and cronhost.yaml."""

    def __init__(self, config="workers: 4\nshutdown_grace: 2s\n"):
        self.root = tempfile.mkdtemp(prefix="cronhost-it-")
        os.makedirs(os.path.join(self.root, "jobs.d"))
        os.makedirs(os.path.join(self.root, "scripts", "lib"))
        self.port_file = os.path.join(self.root, "api.port")
        self.write("cronhost.yaml", config)
        self.state = os.path.join(self.root, "state.db")
        self.log_path = os.path.join(self.root, "host.log")

    def write(self, relative, text):
        path = os.path.join(self.root, relative)
        if relative == "cronhost.yaml" and "server:" not in text:
            # The API on a free port (not the default 8080), so tests can run side by side.
            text += f'server: {{listen: "127.0.0.1:0", port_file: "{self.port_file}"}}\n'

        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)  # a reload never sees half a file

    def job(self, name, yaml, script=None):
        if script is not None:
            self.write(f"scripts/{name}.lua", script)
        self.write(f"jobs.d/{name}.yaml", yaml)

    def remove_job(self, name):
        os.remove(os.path.join(self.root, "jobs.d", f"{name}.yaml"))

    def kill_if_running(self):
        """Ends a host the test left running (kill -9), so nothing outlives the test."""
        proc = getattr(self, "proc", None)
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()

    def cleanup(self):
        self.kill_if_running()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- the daemon
    def start(self, env=None, preexec_fn=None):
        """Starts the daemon; `env` adds variables to the environment it inherits; `preexec_fn`
        runs in the child before the daemon starts."""
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "run", "--jobs", os.path.join(self.root, "jobs.d"), "--state", self.state,
             "--config", os.path.join(self.root, "cronhost.yaml")],
            stdout=self.log, stderr=self.log, env={**os.environ, **(env or {})}, preexec_fn=preexec_fn)
        wait_for(lambda: "cronhost started" in self.log_text() or self.proc.poll() is not None,
                 what="the host to start")
        if self.proc.poll() is not None:
            raise AssertionError("host exited at start:\n" + self.log_text())
        return self

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        return code

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.log_text().count("reloaded") >= self.reloads_seen + 1, what="the reload")
        self.reloads_seen += 1

    reloads_seen = 0

    # --- the state file
    def query(self, sql, *args):
        db = sqlite3.connect(f"file:{self.state}?mode=ro", uri=True, timeout=10)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(sql, args)]
        finally:
            db.close()

    def runs(self, job=None):
        if job:
            return self.query("SELECT * FROM runs WHERE job = ? ORDER BY id", job)
        return self.query("SELECT * FROM runs ORDER BY id")

    def cli(self, *args):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)
