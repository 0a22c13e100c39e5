"""cronhost as a systemd service, with the real protocols and no systemd: the sd_notify
datagrams read from a NOTIFY_SOCKET the test binds (READY, STATUS, RELOADING, STOPPING,
WATCHDOG), the log file reopened on SIGUSR1 after a logrotate-style rename, the service
defaults ($CONFIGURATION_DIRECTORY, $STATE_DIRECTORY), the state files' modes, a missing jobs
folder, --version, the unit file (systemd-analyze verify), and an isolated run under the unit's
hardening emulated (no_new_privs, no capabilities, umask 077, a read-only root)."""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from daemon_site import BIN, Site, wait_for

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
EVERY_SECOND = 'schedule: {cron: "* * * * * *"}\n'
OK_SCRIPT = "return {ok = true}\n"


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def soon(seconds=2):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


class NotifySocket:
    """A datagram socket standing in for systemd's: every message with the time it came
    (time.monotonic, CLOCK_MONOTONIC as the host's MONOTONIC_USEC) and `probe()`'s value then."""

    def __init__(self, directory, probe=lambda: None):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.probe = probe
        self.messages = []  # (monotonic seconds, {key: value}, probe value)
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            at = time.monotonic()
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self.lock:
                self.messages.append((at, fields, self.probe()))

    def with_key(self, key, value=None):
        with self.lock:
            return [m for m in self.messages if key in m[1] and (value is None or m[1][key] == value)]

    def statuses(self):
        with self.lock:
            return [m[1]["STATUS"] for m in self.messages if "STATUS" in m[1]]

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def start_with_pid_variable(site, env, extra_args=()):
    """Starts the daemon with WATCHDOG_PID set to its own pid, as systemd does (a shell that
    execs the host keeps its pid)."""
    site.log = open(site.log_path, "ab")
    site.proc = subprocess.Popen(
        ["/bin/sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"', "sh", BIN, "run",
         "--jobs", os.path.join(site.root, "jobs.d"), "--state", site.state,
         "--config", os.path.join(site.root, "cronhost.yaml"), *extra_args],
        stdout=site.log, stderr=site.log, env={**os.environ, **env})
    wait_for(lambda: "cronhost started" in site.log_text() or site.proc.poll() is not None, what="the host to start")
    if site.proc.poll() is not None:
        raise AssertionError("host exited at start:\n" + site.log_text())


class ServiceTest(unittest.TestCase):
    def setUp(self):
        self.site = Site()
        self.notify = None

    def tearDown(self):
        if self.notify:
            self.notify.close()
        self.site.cleanup()

    def test_notify_ready_status_reload_watchdog_and_stopping(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", OK_SCRIPT)
        # Running for 3 s, from 2 s after the start: STATUS shows it.
        s.job("spin", f"schedule: {{at: '{soon(2)}'}}\ntimeout: 3s\nrun: {{lua: scripts/spin.lua}}\n",
              "while true do end\n")
        self.notify = NotifySocket(s.root, probe=lambda: os.path.exists(s.state))
        start_with_pid_variable(s, {"NOTIFY_SOCKET": self.notify.path, "WATCHDOG_USEC": "3000000"})

        ready = wait_for(lambda: self.notify.with_key("READY", "1"), what="READY=1")
        _, fields, state_existed = ready[0]
        self.assertTrue(state_existed, "READY=1 came before the state file existed")
        self.assertEqual(fields.get("STATUS"), "2 jobs, 0 running", fields)
        self.assertIn("told systemd the host is ready", s.log_text())
        self.assertIn("watchdog_ms=3000", s.log_text())

        wait_for(lambda: "2 jobs, 1 running" in self.notify.statuses(), timeout=10, what="STATUS with the spin running")
        wait_for(lambda: self.notify.statuses()[-1] == "2 jobs, 0 running", timeout=10,
                 what="STATUS once the spin timed out")

        # WATCHDOG=1 from the scheduler's loop once half of WATCHDOG_USEC (1.5 s) has passed: the
        # loop wakes every second, so a ping comes 1.5-2.5 s after the one before, inside the 3 s.
        watchdog = wait_for(lambda: len(self.notify.with_key("WATCHDOG", "1")) >= 5 and self.notify.with_key("WATCHDOG", "1"),
                            timeout=15, what="five WATCHDOG=1")
        self.assertEqual(watchdog[0][1].get("READY"), "1", "the first ping comes with READY=1, none before")
        gaps = [b[0] - a[0] for a, b in zip(watchdog, watchdog[1:])]
        self.assertTrue(all(1.45 <= g <= 2.6 for g in gaps), gaps)

        s.job("added", EVERY_SECOND + "run: {lua: scripts/added.lua}\n", OK_SCRIPT)
        before_hup = time.monotonic()
        s.hup()
        reloading = wait_for(lambda: self.notify.with_key("RELOADING", "1"), what="RELOADING=1")[0]
        monotonic_usec = int(reloading[1]["MONOTONIC_USEC"])
        self.assertLessEqual(abs(monotonic_usec / 1e6 - before_hup), 5.0, (monotonic_usec, before_hup))
        ready_again = wait_for(lambda: [m for m in self.notify.with_key("READY", "1") if m[0] >= reloading[0]],
                               what="READY=1 after the reload")[0]
        # The reload's job count; an every-second run may be under way at that moment.
        self.assertRegex(ready_again[1].get("STATUS", ""), r"^3 jobs, [0-2] running$", ready_again)

        self.assertEqual(s.stop(), 0)
        stopping = self.notify.with_key("STOPPING", "1")
        self.assertEqual(len(stopping), 1, self.notify.messages)
        self.assertTrue(stopping[0][1]["STATUS"].startswith("stopping: "), stopping)
        self.assertGreater(stopping[0][0], ready_again[0])

    def test_no_watchdog_for_another_pid_and_nothing_without_a_socket(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", OK_SCRIPT)
        self.notify = NotifySocket(s.root)
        # WATCHDOG_PID naming another process: the watchdog is not this host's (a child of a service).
        s.start(env={"NOTIFY_SOCKET": self.notify.path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
        wait_for(lambda: self.notify.with_key("READY", "1"), what="READY=1")
        wait_for(lambda: len(s.runs("tick")) >= 3, timeout=10, what="three runs")
        self.assertEqual(s.stop(), 0)
        self.assertEqual(self.notify.with_key("WATCHDOG"), [])
        self.assertIn("watchdog_ms=0", s.log_text())
        # No NOTIFY_SOCKET: the host runs as before, and says nothing of systemd.
        s.start()
        wait_for(lambda: len(s.runs("tick")) >= 5, timeout=10, what="runs without systemd")
        self.assertEqual(s.stop(), 0)
        self.assertEqual(s.log_text().count("told systemd the host is ready"), 1)

    def test_sigusr1_reopens_the_log_file_after_a_rename(self):
        s = self.site
        log_file = os.path.join(s.root, "logs", "cronhost.log")
        s.write("cronhost.yaml", f"workers: 2\nshutdown_grace: 2s\nlog: {{file: {log_file}, rotate: none}}\n")
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", OK_SCRIPT)
        s.start()
        wait_for(lambda: os.path.exists(log_file) and read(log_file).count("run finished") >= 2,
                 what="runs logged to the file")
        self.assertFalse([f for f in os.listdir(os.path.dirname(log_file)) if f != "cronhost.log"],
                         "rotate: none writes the one file, no dated ones")
        os.rename(log_file, log_file + ".1")  # logrotate's create mode
        time.sleep(1.2)  # lines still go to the renamed file until the signal
        s.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: os.path.exists(log_file) and "log file reopened" in read(log_file),
                 what="the reopened file")
        with open(log_file + ".1") as f:
            rotated = f.read()
        wait_for(lambda: read(log_file).count("run finished") >= 2, what="runs logged to the new file")
        with open(log_file + ".1") as f:
            self.assertEqual(f.read(), rotated, "lines still went to the renamed file after SIGUSR1")
        self.assertIn("run finished", rotated)
        self.assertEqual(s.stop(), 0)
        self.assertIn("cronhost stopped", read(log_file))

    def test_a_log_file_that_cannot_be_reopened_leaves_the_host_running_and_a_later_sigusr1_retries(self):
        s = self.site
        logs = os.path.join(s.root, "logs")
        log_file = os.path.join(logs, "cronhost.log")
        s.write("cronhost.yaml", f"workers: 2\nshutdown_grace: 2s\nlog: {{file: {log_file}, rotate: none}}\n")
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", OK_SCRIPT)
        s.start()
        wait_for(lambda: os.path.exists(log_file) and "run finished" in read(log_file), what="runs logged to the file")
        # The folder replaced by a file: no open can succeed there, even as root.
        os.rename(logs, logs + ".old")
        with open(logs, "w") as f:
            f.write("not a folder\n")
        s.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "SIGUSR1: cannot reopen the log file" in s.log_text(), what="the reopen failure on stderr")
        before = s.log_text().count("run finished")
        wait_for(lambda: s.log_text().count("run finished") >= before + 2, what="runs going on after the failure")
        self.assertIsNone(s.proc.poll())
        os.remove(logs)
        os.mkdir(logs)
        s.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: os.path.exists(log_file) and "log file reopened" in read(log_file), what="the retried reopen")
        wait_for(lambda: "run finished" in read(log_file), what="runs logged to the new file")
        self.assertEqual(s.stop(), 0)

    def test_sigusr1_without_a_log_file_says_there_is_nothing_to_reopen(self):
        s = self.site
        s.start()
        s.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "SIGUSR1: no log file to reopen" in s.log_text(), what="the SIGUSR1 warning")
        self.assertEqual(s.stop(), 0)

    def test_service_defaults_come_from_the_systemd_directories(self):
        root = self.site.root
        etc, var, cwd = (os.path.join(root, d) for d in ("etc", "var", "cwd"))
        for d in (etc, var, cwd):
            os.makedirs(d)
        port_file = os.path.join(var, "api.port")
        with open(os.path.join(etc, "cronhost.yaml"), "w") as f:
            f.write(f'workers: 2\nshutdown_grace: 2s\nserver: {{listen: "127.0.0.1:0", port_file: "{port_file}"}}\n')
        env = {**os.environ, "CRONHOST_SERVICE": "1", "CONFIGURATION_DIRECTORY": etc, "STATE_DIRECTORY": var}

        # No jobs folder: an error naming it, not a host with no jobs.
        missing = subprocess.run([BIN, "run"], cwd=cwd, env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(missing.returncode, 2, missing.stderr)
        self.assertIn(f"the jobs folder {etc}/jobs.d does not exist", missing.stderr)
        self.assertFalse(os.path.exists(os.path.join(var, "state.db")))

        os.makedirs(os.path.join(etc, "jobs.d"))
        os.makedirs(os.path.join(etc, "scripts"))
        with open(os.path.join(etc, "jobs.d", "tick.yaml"), "w") as f:
            f.write(EVERY_SECOND + "run: {lua: scripts/tick.lua}\n")  # beside jobs.d, as /etc/cronhost/scripts
        with open(os.path.join(etc, "scripts", "tick.lua"), "w") as f:
            f.write(OK_SCRIPT)
        log = open(os.path.join(root, "service.log"), "ab")
        proc = subprocess.Popen([BIN, "run"], cwd=cwd, env=env, stdout=log, stderr=log)
        try:
            state = os.path.join(var, "state.db")
            wait_for(lambda: os.path.exists(state) and self._finished(state) >= 2, timeout=15, what="runs in the service state")
            # An operator's `cronhost list --service` on the box reads the same config, jobs and state.
            listed = subprocess.run([BIN, "list", "--service"], cwd=cwd, capture_output=True, text=True, timeout=30,
                                    env={**os.environ, "CONFIGURATION_DIRECTORY": etc, "STATE_DIRECTORY": var})
            self.assertEqual(listed.returncode, 0, listed.stderr)
            self.assertRegex(listed.stdout, r"tick .*succeeded", listed.stdout)
            history = subprocess.run([BIN, "history", "tick", "--service"], cwd=cwd, capture_output=True, text=True,
                                     timeout=30, env={**os.environ, "CONFIGURATION_DIRECTORY": etc, "STATE_DIRECTORY": var})
            self.assertEqual(history.returncode, 0, history.stderr)
            self.assertIn("succeeded", history.stdout)
            validate = subprocess.run([BIN, "validate", "--service"], cwd=cwd, capture_output=True, text=True, timeout=30,
                                      env={**os.environ, "CONFIGURATION_DIRECTORY": etc, "STATE_DIRECTORY": var})
            self.assertEqual(validate.returncode, 0, validate.stdout + validate.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=20), 0)
            log.close()
        text = read(os.path.join(root, "service.log"))
        self.assertIn(f"state={var}/state.db", text)
        self.assertIn(f"jobs_dir={etc}/jobs.d", text)
        self.assertEqual(os.listdir(cwd), [], "the service wrote into its working folder")

        # The config's state: and --jobs win over the service's defaults.
        with open(os.path.join(etc, "cronhost.yaml"), "a") as f:
            f.write("state: elsewhere.db\n")
        other_jobs = os.path.join(root, "other-jobs")
        os.makedirs(other_jobs)
        listed = subprocess.run([BIN, "list", "--jobs", other_jobs, "--state", "/dev/null/none"], cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=30)
        self.assertNotIn("tick", listed.stdout)
        dry = subprocess.run([BIN, "validate"], cwd=cwd, env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(dry.returncode, 0, dry.stdout + dry.stderr)
        log = open(os.path.join(root, "service2.log"), "ab")
        proc = subprocess.Popen([BIN, "run"], cwd=cwd, env=env, stdout=log, stderr=log)
        try:
            wait_for(lambda: os.path.exists(os.path.join(etc, "elsewhere.db")), what="the config's state file")
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=20), 0)
            log.close()

    @staticmethod
    def _finished(state):
        import sqlite3
        db = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute("SELECT count(*) FROM runs WHERE status = 'succeeded'").fetchone()[0]
        except sqlite3.OperationalError:
            return 0  # not migrated yet
        finally:
            db.close()

    def test_missing_jobs_folder_at_start_is_an_error(self):
        s = self.site
        shutil.rmtree(os.path.join(s.root, "jobs.d"))
        result = s.cli("run", "--jobs", os.path.join(s.root, "jobs.d"), "--state", s.state,
                       "--config", os.path.join(s.root, "cronhost.yaml"))
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(f"the jobs folder {s.root}/jobs.d does not exist", result.stderr)
        self.assertFalse(os.path.exists(s.state))
        with open(os.path.join(s.root, "jobs.d"), "w") as f:
            f.write("a file\n")
        result = s.cli("run", "--jobs", os.path.join(s.root, "jobs.d"), "--state", s.state,
                       "--config", os.path.join(s.root, "cronhost.yaml"))
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(f"the jobs folder {s.root}/jobs.d is not a folder", result.stderr)

    def test_state_files_are_owner_only_whatever_the_umask(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", "assert(state.put('n', 1)) return {}\n")
        s.start(preexec_fn=lambda: os.umask(0o022))
        wait_for(lambda: len(s.runs("tick")) >= 2, what="runs written")
        modes = {suffix: stat.S_IMODE(os.stat(s.state + suffix).st_mode) for suffix in ("", "-wal", "-shm")}
        plugins_mode = stat.S_IMODE(os.stat(s.state + ".plugins").st_mode)
        self.assertEqual(s.stop(), 0, s.log_text())
        self.assertEqual(modes, {"": 0o600, "-wal": 0o600, "-shm": 0o600})
        self.assertEqual(plugins_mode, 0o700)
        self.assertNotIn("readable by others", s.log_text())

        # A state file an operator opened up is reported by name, and left as it is.
        os.chmod(s.state, 0o644)
        os.remove(s.log_path)  # start() waits for "cronhost started" in a log of this start only
        s.start(preexec_fn=lambda: os.umask(0o022))
        self.assertEqual(s.stop(), 0, s.log_text())
        self.assertRegex(s.log_text(), r"a state file is readable by others than its owner.* file=%s mode=0644"
                         % re.escape(s.state))
        self.assertEqual(stat.S_IMODE(os.stat(s.state).st_mode), 0o644)

    def test_version_names_the_commit(self):
        result = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 0)
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
        if head.returncode != 0:
            self.skipTest("not a git checkout: " + head.stderr.strip())
        self.assertRegex(result.stdout.strip(), r"^cronhost \d+\.\d+\.\d+ \(commit [0-9a-f]{12}\)$")
        self.assertEqual(result.stdout.strip().split("commit ")[1].rstrip(")"), head.stdout.strip(),
                         "the build is of another commit: configure again (cmake picks up HEAD moves itself)")

    def test_the_unit_file_verifies(self):
        unit_source = os.path.join(REPO, "packaging", "systemd", "cronhost.service.in")
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("no systemd-analyze")
        work = tempfile.mkdtemp(prefix="cronhost-unit-")
        try:
            unit = os.path.join(work, "cronhost.service")
            with open(unit_source) as f:
                text = f.read().replace("@CRONHOST_BINDIR_FULL@/cronhost", os.path.abspath(BIN))
            with open(unit, "w") as f:
                f.write(text)
            # --man=no: the man pages come from the manuals part's install, not this checkout.
            result = subprocess.run([analyze, "verify", "--man=no", unit], capture_output=True, text=True, timeout=60)
            self.assertEqual((result.returncode, result.stderr), (0, ""))
            security = subprocess.run([analyze, "security", "--offline=yes", unit], capture_output=True, text=True,
                                      timeout=60)
            exposure = re.search(r"Overall exposure level for cronhost.service: (\d+\.\d+)", security.stdout)
            self.assertIsNotNone(exposure, security.stdout + security.stderr)
            self.assertLess(float(exposure.group(1)), 3.0, security.stdout)
        finally:
            shutil.rmtree(work, ignore_errors=True)


class HardenedRunTest(unittest.TestCase):
    """The unit's hardening around a real isolated run: the host as an unprivileged user with
    no capabilities and no_new_privs (User=, CapabilityBoundingSet=, NoNewPrivileges=), umask 077,
    in a mount namespace whose root is read-only but for the state folder (ProtectSystem=strict
    plus StateDirectory=). Needs root to set that up (skipped otherwise)."""

    def test_isolated_lua_runs_under_the_units_hardening(self):
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
            self.skipTest("needs root, unshare and setpriv")
        site = self.site = Site()
        self.addCleanup(site.cleanup)
        state_dir = os.path.join(site.root, "state")
        os.makedirs(state_dir)
        port_file = os.path.join(state_dir, "api.port")
        site.write("cronhost.yaml", f'workers: 2\nshutdown_grace: 2s\n'
                                    f'server: {{listen: "127.0.0.1:0", port_file: "{port_file}"}}\n')
        blocked = os.path.join(site.root, "blocked.txt")
        site.job("isolated", f"schedule: {{at: '{soon(2)}'}}\nrun: {{lua: scripts/isolated.lua, isolation: process}}\n"
                             f"allow: {{files: [{site.root}]}}\n",
                 f"local ok, err = files.write('{blocked}', 'x')\nreturn {{written = ok ~= nil, err = tostring(err)}}\n")
        site.job("inline", f"schedule: {{at: '{soon(2)}'}}\nrun: {{lua: scripts/inline.lua}}\n", OK_SCRIPT)
        for path, dirs, files in os.walk(site.root):
            os.chmod(path, 0o755)
            for f in files:
                os.chmod(os.path.join(path, f), 0o644)
        os.chown(state_dir, 65534, 65534)
        os.chmod(state_dir, 0o700)
        state = site.state = os.path.join(state_dir, "state.db")
        # Delegate=pids: a pids cgroup (v1 here) of the host's own, given to its user, in which it
        # makes each isolated run's cgroup. Without a v1 pids hierarchy the run is not capped
        # (the host says so) and the test checks the rest.
        delegated = self.delegated_pids_cgroup()
        join = f"echo $$ > {delegated}/cgroup.procs\n" if delegated else ""
        # A mount namespace of its own: the state folder bound onto itself (a mount of its own),
        # then the root mount made read-only there: the state stays writable, the rest is not.
        script = f"""set -e
{join}mount --make-rprivate /
mount --bind {state_dir} {state_dir}
mount -o remount,bind,ro /
umask 077
exec setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all \\
  {os.path.abspath(BIN)} run --jobs {site.root}/jobs.d --config {site.root}/cronhost.yaml --state {state}
"""
        log = open(site.log_path, "ab")
        site.proc = subprocess.Popen(["unshare", "-m", "sh", "-c", script], stdout=log, stderr=log)
        try:
            wait_for(lambda: "cronhost started" in site.log_text() or site.proc.poll() is not None, timeout=15,
                     what="the host to start")
            self.assertIsNone(site.proc.poll(), site.log_text())
            wait_for(lambda: site.log_text().count("run finished") >= 2, timeout=20, what="both runs")
        finally:
            site.proc.send_signal(signal.SIGTERM)
            code = site.proc.wait(timeout=20)
            log.close()
        self.assertEqual(code, 0, site.log_text())
        runs = {r["job"]: r for r in site.query("SELECT job, status, result, error FROM runs")}
        self.assertEqual(runs["inline"]["status"], "succeeded", runs)
        self.assertEqual(runs["isolated"]["status"], "succeeded", runs)
        self.assertIn('"written":false', runs["isolated"]["result"].replace(" ", ""))
        self.assertIn("Read-only file system", runs["isolated"]["result"])
        self.assertFalse(os.path.exists(blocked))
        st = os.stat(state)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (65534, 0o600))
        self.assertIn("Landlock ABI", site.log_text())
        if delegated:
            self.assertIn("threads of an isolated run capped at 256 tasks by a pids cgroup under " + delegated,
                          site.log_text())

    def delegated_pids_cgroup(self):
        """A pids cgroup v1 under the test's own, owned by the host's user (what systemd's
        Delegate= does), removed after the test; None where there is no v1 pids hierarchy."""
        with open("/proc/self/cgroup") as f:
            own = [line.strip().split(":", 2)[2] for line in f if line.split(":")[1] == "pids"]
        if not own or not os.path.isdir("/sys/fs/cgroup/pids"):
            return None
        path = os.path.join("/sys/fs/cgroup/pids" + own[0].rstrip("/"), "cronhost-service-test-%d" % os.getpid())
        try:
            os.mkdir(path)
        except OSError:
            return None
        for name in ("", "cgroup.procs", "tasks"):
            os.chown(os.path.join(path, name), 65534, 65534)
        self.addCleanup(lambda: os.path.isdir(path) and os.rmdir(path))
        return path


if __name__ == "__main__":
    unittest.main()
