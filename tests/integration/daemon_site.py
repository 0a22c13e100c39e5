"""Test support: a cronhost daemon on a temporary site (jobs.d, scripts, state file).

Starts the real `cronhost run` as a child process and reads the real state: the SQLite file,
or, with CRONHOST_TEST_STATE=postgres, a database of its own on a real PostgreSQL 15 that
the first site of the test process starts (tests/support/dbserver.py) and the exit stops."""
import atexit
import itertools
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import shutil
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import dbserver  # noqa: E402

BIN = os.environ.get("CRONHOST_BIN", "build/cronhost")
BACKEND = os.environ.get("CRONHOST_TEST_STATE", "sqlite")

_postgres = None
_databases = itertools.count(1)


def postgres():
    """The test process's PostgreSQL server, started on first use."""
    global _postgres
    if _postgres is None:
        _postgres = dbserver.DbServer("postgres")
        atexit.register(_postgres.stop)
    return _postgres


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class PostgresTestCase(unittest.TestCase):
    """A test class with a PostgreSQL 15 of its own (tests/support/dbserver.py), started once
    for its tests and stopped after them: `self.server`."""

    @classmethod
    def setUpClass(cls):
        cls.server = dbserver.DbServer("postgres")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class Site:
    """A folder with jobs.d/, scripts/ and cronhost.yaml."""

    def __init__(self, config="workers: 4\nshutdown_grace: 2s\n", backend=None, server=None):
        """`server`: a dbserver.DbServer of the test's own for a postgres site (one it kills or
        restarts), instead of the shared one."""
        self.backend = backend or ("postgres" if server else BACKEND)
        self.server = server
        self.root = tempfile.mkdtemp(prefix="cronhost-it-")
        os.makedirs(os.path.join(self.root, "jobs.d"))
        os.makedirs(os.path.join(self.root, "scripts", "lib"))
        self.port_file = os.path.join(self.root, "api.port")
        self.write("cronhost.yaml", config)
        self.state = os.path.join(self.root, "state.db")
        self.env = {}
        if self.backend == "postgres":
            # --state takes the URL; the password comes from PGPASSWORD, as libpq reads it.
            server = self.server = self.server or postgres()
            self.database = "site_%d_%d" % (os.getpid(), next(_databases))
            server.sql("CREATE DATABASE %s OWNER %s" % (self.database, server.user))
            self.state = "postgresql://%s@127.0.0.1:%d/%s" % (server.user, server.port, self.database)
            self.env = {"PGPASSWORD": server.password}
        self.log_path = os.path.join(self.root, "host.log")

    def write(self, relative, text):
        path = os.path.join(self.root, relative)
        if relative == "cronhost.yaml" and "server:" not in text:
            # The API on a free port (not the default 8080), so tests can run side by side.
            text += f'server: {{listen: "127.0.0.1:0", port_file: "{self.port_file}"}}\n'
        if relative == "cronhost.yaml" and self.backend == "postgres" and "cluster:" not in text:
            # A dead host's runs are reaped after a lease (and a restarted host's reaper waits
            # one): short enough for the tests' 10 s waits, long enough for a loaded machine.
            text += "cluster: {lease: 2s}\n"

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
        if self.backend == "postgres":
            try:
                self.server.sql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.database)
            except dbserver.DbServerError:
                pass  # a server the test stopped takes its databases with it

    # --- the daemon
    def start(self, env=None, preexec_fn=None):
        """Starts the daemon; `env` adds variables to the environment it inherits; `preexec_fn`
        runs in the child before the daemon starts."""
        started_before = self.log_text().count("cronhost started") if os.path.exists(self.log_path) else 0
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "run", "--jobs", os.path.join(self.root, "jobs.d"), "--state", self.state,
             "--config", os.path.join(self.root, "cronhost.yaml")],
            stdout=self.log, stderr=self.log, env={**os.environ, **self.env, **(env or {})}, preexec_fn=preexec_fn)
        # The log is appended to across starts: this start's line is the one past those before.
        wait_for(lambda: self.log_text().count("cronhost started") > started_before or self.proc.poll() is not None,
                 what="the host to start")
        if self.proc.poll() is not None:
            raise AssertionError("host exited at start:\n" + self.log_text())
        return self

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.log.close()
            raise AssertionError(f"the host did not stop within {timeout} s of {sig!r}:\n" + self.log_text()[-6000:])
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

    # --- the state
    def query(self, sql, *args):
        """Rows of a SELECT as dicts; `?` marks the args (as in sqlite3) on either backend."""
        if self.backend == "postgres":
            return self._pg_query(sql, args)
        db = sqlite3.connect(f"file:{self.state}?mode=ro", uri=True, timeout=10)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(sql, args)]
        finally:
            db.close()

    def _pg_query(self, sql, args):
        # psql variables carry the args quoted (:'pN'); json_agg keeps each column's type, so
        # numbers stay numbers (PostgreSQL's booleans read as True/False, equal to 1/0).
        counter = itertools.count()
        text = re.sub(r"\?", lambda m: ":'p%d'" % next(counter), sql)
        argv, env = dbserver.client_command(self.server.info, [], database=self.database)
        for i, value in enumerate(args):
            argv += ["-v", "p%d=%s" % (i, value)]
        wrapped = "SELECT coalesce(json_agg(t), '[]') FROM (%s) t" % text
        result = subprocess.run(argv, env=env, input=wrapped, capture_output=True, text=True, timeout=30)
        if result.returncode:
            raise AssertionError("psql: %s: %s" % (sql, result.stderr.strip()))
        return json.loads(result.stdout)

    def runs(self, job=None):
        if job:
            return self.query("SELECT * FROM runs WHERE job = ? ORDER BY id", job)
        return self.query("SELECT * FROM runs ORDER BY id")

    def cli(self, *args):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **self.env})
