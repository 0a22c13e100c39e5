"""Throwaway PostgreSQL 15 and MariaDB 10.11 servers for tests (stdlib only, /usr/bin/python3).

From Python (tests/integration puts tests/support on sys.path):

    with dbserver.start("postgres") as pg:          # or "mariadb"; tls=True for a CA + cert
        pg.sql("CREATE TABLE t (id int)")          # superuser, over the unix socket -> rows
        pg.app_sql("SELECT 1")                     # `cronhost` with its password over TCP
        pg.url()                                   # postgresql://cronhost@127.0.0.1:PORT/app
        pg.kill()                                  # kill -9 the server and its children
    # stopped: no process, no directory left

From anything else (the C++ unit tests), the same as a command:

    /usr/bin/python3 tests/support/dbserver.py start postgres|mariadb [--dir D] [--tls]

prints one JSON line {kind, host, port, user, password, database, url, socket, socket_dir,
superuser, superuser_password, ca, dir, pid, startup_seconds, phase_seconds} (or {"error": ...}
and exit 1),
then stays in the foreground until SIGTERM or SIGINT, stops the server and removes its
directory. SIGUSR1 kills the server with SIGKILL (answered by {"event": "killed"}), SIGUSR2
starts it again on the same data and port ({"event": "started"}). With --exit-on-stdin-eof
it also stops when its stdin (a pipe from the caller) closes, so a caller that dies leaves
nothing behind; it stops as well when the thread that started it exits (PR_SET_PDEATHSIG).

Each server lives in a fresh directory beneath --dir (default: /dev/shm when it is a tmpfs
with 2 GB free and TMPDIR is unset, else the temp folder), which the
server's user must be able to enter: as root the servers run as the `postgres` and `mysql`
system users. Both listen on 127.0.0.1 only, on a free port (taken again if another process
grabbed it first), with fsync off and small buffers; time zone UTC, UTF-8 (utf8mb4).
The data directory is a copy of a template that initdb / mariadb-install-db made once per
machine (kept in cronhost-dbserver-templates-UID/ in that default folder; safe to delete).
PostgreSQL: `postgres` superuser (trust over the socket, SCRAM over TCP), role
`cronhost` (scram-sha-256) owning database `app`. MariaDB: `root`
(unix_socket over the socket; password over TCP), user `cronhost`@`%` (mysql_native_password,
or ed25519 with auth="ed25519") with every privilege on `app`.
"""
import argparse
import ctypes
import fcntl
import hashlib
import json
import os
import pwd
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"
PG_BIN = "/usr/lib/postgresql/15/bin"
KINDS = ("postgres", "mariadb")
APP_USER, APP_DATABASE = "cronhost", "app"
# Measured on this 2-core machine under four builds: PostgreSQL is ready 1.5 s after the start
# (initdb is most of it), MariaDB 2-3 s. The bound is for a machine far busier than that.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
PORT_ATTEMPTS = 5
# Bump when what initdb / mariadb-install-db are given changes: the templates made before go.
TEMPLATE_VERSION = 1
SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes with the NUL

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
IPC_RMID = 0
_libc = ctypes.CDLL(None, use_errno=True)
CONTROL_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2}


class DbServerError(RuntimeError):
    pass


# --- processes -------------------------------------------------------------------------------

def process_table():
    """{pid: (ppid, starttime)} of every process now (starttime tells a reused pid apart)."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()  # comm may hold spaces and ')'
            except (OSError, IndexError):
                continue  # exited while we looked
            table[int(name)] = (int(fields[1]), int(fields[19]))
    return table


def process_tree(root):
    """{pid: starttime} of root and all its descendants (PostgreSQL's children call setsid(),
    so a process group does not hold them)."""
    table = process_table()
    if root not in table:
        return {}
    tree, todo = {root: table[root][1]}, [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, start) in table.items():
            if ppid == parent and pid not in tree:
                tree[pid] = start
                todo.append(pid)
    return tree


def still_running(processes):
    """The subset of {pid: starttime} that still runs (the same process, not a reused pid),
    zombies included: a zombie means nobody reaped it, which the tests count as left over."""
    table = process_table()
    return {pid: start for pid, start in processes.items() if table.get(pid, (0, None))[1] == start}


def _server_child_setup(death_signal):
    # Runs in the child after it became the server's user: die with the supervisor's thread,
    # and undo the supervisor's blocked signals (a blocked mask survives exec).
    _libc.prctl(PR_SET_PDEATHSIG, death_signal)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def free_port():
    """A port that was free a moment ago; servers that lose the race are started again."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable_by(path, account):
    """Whether `account` may enter every folder down to `path` (it will own what is beneath)."""
    groups = {account.pw_gid} | {g for g in os.getgrouplist(account.pw_name, account.pw_gid)}
    path = os.path.abspath(path)
    while True:
        st = os.stat(path)
        if account.pw_uid == 0:
            ok = True
        elif st.st_uid == account.pw_uid:
            ok = st.st_mode & 0o100
        elif st.st_gid in groups:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return False, path
        if path == "/":
            return True, None
        path = os.path.dirname(path)


# P-256 keys: with two RSA 2048 keys a TLS server started 0.6-0.8 s later on this machine
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]


def _make_tls_files(directory, owner):
    """A CA and a server certificate it signed, for localhost and 127.0.0.1 -> (ca, cert, key)."""
    ca_key, ca = os.path.join(directory, "ca-key.pem"), os.path.join(directory, "ca.pem")
    key, csr = os.path.join(directory, "server-key.pem"), os.path.join(directory, "server.csr")
    cert, ext = os.path.join(directory, "server.pem"), os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    for argv in (
            ["req", "-x509", *EC_KEY, "-nodes", "-keyout", ca_key, "-out", ca,
             "-days", "2", "-subj", "/CN=cronhost test CA"],
            ["req", *EC_KEY, "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
             "-out", cert, "-days", "2", "-extfile", ext]):
        result = subprocess.run(["openssl", *argv], capture_output=True, text=True)
        if result.returncode:
            raise DbServerError("openssl %s failed: %s" % (argv[0], result.stderr.strip()))
    os.chmod(ca, 0o644)
    os.chmod(key, 0o600)  # PostgreSQL refuses a key others can read
    os.chown(key, owner.pw_uid, owner.pw_gid)
    os.chown(cert, owner.pw_uid, owner.pw_gid)
    return ca, cert, key


def default_parent():
    """Where server folders go unless told: /dev/shm when it is a roomy tmpfs (creating the
    ~1,000 files of a PostgreSQL data directory took 1.0-1.3 s on this machine's disk, 0.16 s
    there), else the temp folder. An explicit TMPDIR wins."""
    if "TMPDIR" not in os.environ and os.path.isdir("/dev/shm"):
        fs = os.statvfs("/dev/shm")
        if fs.f_bavail * fs.f_frsize >= 2 << 30 and os.access("/dev/shm", os.W_OK):
            return "/dev/shm"
    return tempfile.gettempdir()


def template_root():
    # One per user that runs the tests: root's is not writable by others
    return os.path.join(default_parent(), "cronhost-dbserver-templates-%d" % os.geteuid())


def _template(server):
    """A folder whose data/ is a fresh data directory made by server.init_data(), once per
    machine for each server binary, user and init arguments. initdb and mariadb-install-db were
    most of a start (1.6-1.9 s and 2.9-4.3 s on this machine while it built); a copy takes 0.1 s.
    Deleting the templates folder at any time is safe."""
    root = template_root()
    os.makedirs(root, mode=0o755, exist_ok=True)
    binary = os.stat(server.binary)
    identity = repr((TEMPLATE_VERSION, server.init_argv("DATA", "SCRATCH"), binary.st_size,
                     binary.st_mtime_ns)).encode()
    key = "%s-%d-%s" % (server.kind, server.account.pw_uid, hashlib.sha256(identity).hexdigest()[:16])
    final = os.path.join(root, key)
    if os.path.isdir(final):
        return final
    with open(final + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be making the same one now
        if not os.path.isdir(final):
            building = tempfile.mkdtemp(prefix=key + ".building-", dir=root)
            try:
                os.chmod(building, 0o755)
                os.chown(building, server.account.pw_uid, server.account.pw_gid)
                scratch = os.path.join(building, "scratch")
                os.mkdir(scratch)
                os.chown(scratch, server.account.pw_uid, server.account.pw_gid)
                server.run_as_server_user(server.init_argv(os.path.join(building, "data"), scratch),
                                          os.path.basename(server.init_argv("", "")[0]))
                os.rename(building, final)  # whole or not at all
            except BaseException:
                shutil.rmtree(building, ignore_errors=True)
                raise
    return final


# --- the servers, run inside the supervisor --------------------------------------------------

class _Server:
    """One server process in its own directory. start() makes and starts it, kill() sends
    SIGKILL to it and its children, stop() stops it and removes the directory."""
    kind = None
    system_user = None
    prefix = None
    death_signal = signal.SIGKILL

    def __init__(self, parent=None, tls=False, auth=None):
        self.tls, self.auth = tls, auth
        self.account = pwd.getpwnam(self.system_user) if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        self.password = secrets.token_urlsafe(12)
        self.superuser_password = secrets.token_urlsafe(12)
        self.proc, self.port, self.ca, self.startup_seconds = None, None, None, None
        self.phase_seconds = {}  # init (initdb, install-db, TLS files), ready, setup (users)
        parent = os.path.abspath(parent or default_parent())
        ok, blocked = _reachable_by(parent, self.account)
        if not ok:
            raise DbServerError("%s: user %s cannot enter %s (mode %o): give a folder it can reach "
                                "(e.g. /tmp, or chmod o+x it)"
                                % (parent, self.account.pw_name, blocked, os.stat(blocked).st_mode & 0o7777))
        self.dir = tempfile.mkdtemp(prefix=self.prefix, dir=parent)
        os.chmod(self.dir, 0o755)  # the CA and the log readable by the tests whoever they run as
        os.chown(self.dir, self.account.pw_uid, self.account.pw_gid)
        self.log_path = os.path.join(self.dir, "server.log")

    # A kind gives: binary and init_argv() (its template), argv() and ready() (each launch),
    # setup() (users and database, once), stop_signal, socket() and socket_file()
    def start(self):
        started = time.monotonic()
        if self.tls:
            self.ca, self.cert, self.key = _make_tls_files(self.dir, self.account)
        self.prepare()
        prepared = time.monotonic()
        self.launch()
        launched = time.monotonic()
        self.setup()
        self.startup_seconds = round(time.monotonic() - started, 3)
        self.phase_seconds = {"init": round(prepared - started, 3), "ready": round(launched - prepared, 3),
                              "setup": round(time.monotonic() - launched, 3)}

    def prepare(self):
        data = os.path.join(self.dir, "data")
        copy = subprocess.run(["cp", "-a", os.path.join(_template(self), "data"), data],
                              capture_output=True, text=True)
        if copy.returncode:
            raise DbServerError("copying the data template failed: " + copy.stderr.strip())

    def launch(self, port=None):
        """Start the server and wait until it answers; a new port while another process takes
        ours (unless port is given: a restart keeps its port)."""
        for attempt in range(1 if port else PORT_ATTEMPTS):
            self.port = port or free_port()
            self._check_socket_path()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.dir, user=self.account.pw_uid, group=self.account.pw_gid,
                    extra_groups=[] if os.geteuid() == 0 else None, start_new_session=True,
                    preexec_fn=lambda: _server_child_setup(self.death_signal),
                    env=self.environment())
            deadline = time.monotonic() + START_TIMEOUT
            while not self.ready():
                if self.proc.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    self.kill()
                    raise DbServerError("%s not ready after %ss; log %s:\n%s"
                                        % (self.kind, START_TIMEOUT, self.log_path, self.log_tail()))
                time.sleep(0.01)
            else:
                return
            if "already in use" not in self.log_tail() or attempt == PORT_ATTEMPTS - 1 or port:
                raise DbServerError("%s exited (rc %s) while starting; log %s:\n%s"
                                    % (self.kind, self.proc.returncode, self.log_path, self.log_tail()))

    def environment(self):
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "TZ": "UTC",
                "HOME": self.dir}

    def run_as_server_user(self, argv, what):
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                cwd=self.dir, user=self.account.pw_uid, group=self.account.pw_gid,
                                extra_groups=[] if os.geteuid() == 0 else None,
                                env=self.environment(), timeout=START_TIMEOUT)
        if result.returncode:
            raise DbServerError("%s failed (rc %d):\n%s%s"
                                % (what, result.returncode, result.stdout[-3000:], result.stderr[-3000:]))

    def log_tail(self, size=4000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-size:]
        except OSError:
            return ""

    def _check_socket_path(self):
        if len(self.socket_file()) > SUN_PATH_MAX:
            raise DbServerError("socket path %s is longer than %d bytes: use a shorter --dir"
                                % (self.socket_file(), SUN_PATH_MAX))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL to the server and every process beneath it; reaps them all."""
        if self.proc is None:
            return
        tree = process_tree(self.proc.pid) if self.running() else {}
        for pid in tree:  # the parent first, so it starts no new child
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self._reap(tree)

    def stop(self):
        """Stops the server (SIGKILL after STOP_TIMEOUT), then removes the directory."""
        if self.running():
            tree = process_tree(self.proc.pid)
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
            self._reap(tree)
        elif self.proc is not None:
            self.proc.wait()
        self._report_deadlocks()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _report_deadlocks(self):
        """The server log's deadlock reports (both statements: the client is told only
        "see server log"), printed before the log goes with the directory."""
        try:
            with open(self.log_path, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return
        for i, line in enumerate(lines):
            if "deadlock detected" in line:
                sys.stderr.write("%s server log, deadlock:\n%s\n" % (self.kind, "\n".join(lines[i:i + 12])))

    @staticmethod
    def _reap(tree):
        # Orphaned children come to us (we are a subreaper); elsewhere init would reap them,
        # but PID 1 of some containers never does.
        deadline = time.monotonic() + 5
        while still_running(tree) and time.monotonic() < deadline:
            for pid in still_running(tree):
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass  # not ours: its parent will reap it
            time.sleep(0.01)

    def info(self):
        return {"kind": self.kind, "host": "127.0.0.1", "port": self.port, "user": APP_USER,
                "password": self.password, "database": APP_DATABASE, "url": self.url(),
                "socket": self.socket(), "socket_dir": self.dir, "superuser": self.superuser,
                "superuser_password": self.superuser_password, "ca": self.ca, "dir": self.dir,
                "pid": self.proc.pid, "startup_seconds": self.startup_seconds,
                "phase_seconds": self.phase_seconds}

    def url(self):
        return "%s://%s@127.0.0.1:%d/%s" % (self.scheme, APP_USER, self.port, APP_DATABASE)


class _Postgres(_Server):
    kind, system_user, prefix, scheme = "postgres", "postgres", "cronhost-pg-", "postgresql"
    superuser = "postgres"
    stop_signal = signal.SIGINT    # "fast" shutdown: no waiting for clients to leave
    death_signal = signal.SIGQUIT  # "immediate": the postmaster takes its children with it

    def socket(self):
        return self.dir  # libpq's host= takes the folder

    def socket_file(self):
        return os.path.join(self.dir, ".s.PGSQL.%d" % (self.port or 65535))

    binary = PG_BIN + "/postgres"

    def init_argv(self, data, scratch):
        # The superuser gets its password in setup(): each server its own, the template none
        return [PG_BIN + "/initdb", "-D", data, "-U", self.superuser, "--auth-local=trust",
                "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
                "--no-instructions"]

    def argv(self):
        # fsync off but synchronous_commit on: a commit is written before it returns, so it
        # survives kill -9 of the server (not a power cut), which crash tests rely on
        options = {"listen_addresses": "127.0.0.1", "port": self.port,
                   "unix_socket_directories": self.dir, "fsync": "off",
                   "full_page_writes": "off",
                   "shared_buffers": "16MB", "max_connections": "50", "timezone": "UTC",
                   "log_timezone": "UTC", "logging_collector": "off", "password_encryption":
                   "scram-sha-256",
                   # segments as files in data/, not in /dev/shm where a kill -9 left them
                   "dynamic_shared_memory_type": "mmap"}
        if self.tls:
            options.update(ssl="on", ssl_cert_file=self.cert, ssl_key_file=self.key)
        argv = [PG_BIN + "/postgres", "-D", os.path.join(self.dir, "data")]
        for key, value in options.items():
            argv += ["-c", "%s=%s" % (key, value)]
        return argv

    def stop(self):
        # kill -9 leaves the postmaster's System V interlock segment behind (a clean stop or a
        # restart removes it), so remove it: the one postmaster.pid names, if the postmaster
        # made it and nobody is attached any more
        segment, postmaster = self._segment_in_pid_file(), self.proc.pid if self.proc else None
        super().stop()
        if segment is not None and _unattached_segment_of(segment, postmaster):
            _libc.shmctl(segment, IPC_RMID, None)

    def _segment_in_pid_file(self):
        """The shmid on line 7 of postmaster.pid ("key id"), while the file is there."""
        try:
            with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
                return int(f.read().split("\n")[6].split()[1])
        except (OSError, IndexError, ValueError):
            return None

    def ready(self):
        # The postmaster writes "ready" as line 8 of postmaster.pid once it accepts connections
        try:
            with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
                lines = f.read().split("\n")
        except OSError:
            return False
        return len(lines) > 7 and lines[7].strip() == "ready" and lines[0] == str(self.proc.pid)

    def setup(self):
        run_sql(self.info(), ["ALTER ROLE %s PASSWORD '%s'" % (self.superuser, self.superuser_password),
                              "CREATE ROLE %s LOGIN PASSWORD '%s'" % (APP_USER, self.password),
                              "CREATE DATABASE %s OWNER %s" % (APP_DATABASE, APP_USER)],
                database="postgres")


class _Mariadb(_Server):
    kind, system_user, prefix, scheme = "mariadb", "mysql", "cronhost-my-", "mysql"
    stop_signal = signal.SIGTERM

    @property
    def superuser(self):
        return "root"

    def socket(self):
        return self.socket_file()  # the Connector/C and the client take the file

    def socket_file(self):
        return os.path.join(self.dir, "mysqld.sock")

    binary = "/usr/sbin/mariadbd"

    def common_options(self, data=None, scratch=None):
        # Shared by the bootstrap and the server: Debian's /etc/mysql is never read (--no-defaults).
        # flush_log_at_trx_commit=2 writes the log at each commit without fsync: a commit
        # survives kill -9 of the server (0 lost the last second of commits)
        return ["--no-defaults", "--datadir=" + (data or os.path.join(self.dir, "data")),
                "--innodb-log-file-size=16M", "--innodb-buffer-pool-size=16M",
                "--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0",
                "--innodb-flush-method=nosync", "--skip-log-bin", "--skip-name-resolve",
                "--performance-schema=0", "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci", "--tmpdir=" + (scratch or self.tmpdir)]

    @property
    def tmpdir(self):
        return os.path.join(self.dir, "tmp")

    def init_argv(self, data, scratch):
        # root is unix_socket-authenticated: the OS user root (the tests) gets in over the socket
        return ["/usr/bin/mariadb-install-db", *self.common_options(data, scratch), "--skip-test-db",
                "--auth-root-authentication-method=socket"]

    def prepare(self):
        for folder in (self.tmpdir, os.path.join(self.dir, "files")):
            os.mkdir(folder)
            os.chown(folder, self.account.pw_uid, self.account.pw_gid)
        super().prepare()

    def argv(self):
        argv = ["/usr/sbin/mariadbd", *self.common_options(), "--bind-address=127.0.0.1",
                "--port=%d" % self.port, "--socket=" + self.socket_file(),
                "--pid-file=" + os.path.join(self.dir, "mariadbd.pid"),
                "--log-error=" + self.log_path, "--default-time-zone=+00:00",
                "--innodb-buffer-pool-dump-at-shutdown=0", "--innodb-buffer-pool-load-at-startup=0",
                "--secure-file-priv=" + os.path.join(self.dir, "files")]
        if self.tls:
            argv += ["--ssl-ca=" + self.ca, "--ssl-cert=" + self.cert, "--ssl-key=" + self.key]
        return argv

    def ready(self):
        # Ready when it greets on the socket (protocol version 10 is the greeting's first byte)
        # and answers on TCP (there with an error packet until setup adds users for TCP)
        return (_first_packet(socket.AF_UNIX, self.socket_file())[4:5] == b"\x0a"
                and len(_first_packet(socket.AF_INET, ("127.0.0.1", self.port))) >= 5)

    def setup(self):
        info = dict(self.info(), superuser=self.superuser_login())
        identified = ("IDENTIFIED VIA ed25519 USING PASSWORD('%s')" % self.password
                      if self.auth == "ed25519" else "IDENTIFIED BY '%s'" % self.password)
        statements = []
        if self.auth == "ed25519":
            statements.append("INSTALL SONAME 'auth_ed25519'")
        statements += [
            "CREATE DATABASE %s" % APP_DATABASE,
            "CREATE USER '%s'@'%%' %s" % (APP_USER, identified),
            "GRANT ALL ON %s.* TO '%s'@'%%'" % (APP_DATABASE, APP_USER),
            "CREATE USER 'root'@'%%' IDENTIFIED BY '%s'" % self.superuser_password,
            "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION",
            "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password "
            "USING PASSWORD('%s')" % self.superuser_password,
        ]
        run_sql(info, "; ".join(statements), database="mysql")

    def superuser_login(self):
        # Before setup only unix_socket works: as the OS user root that is `root`, otherwise
        # mariadb-install-db made an account named after the OS user
        return "root" if os.geteuid() == 0 else self.account.pw_name


def _unattached_segment_of(shmid, creator):
    """Whether System V segment shmid exists, was made by pid creator and has nobody attached."""
    with open("/proc/sysvipc/shm") as f:
        for line in f.readlines()[1:]:
            fields = line.split()  # key shmid perms size cpid lpid nattch ...
            if int(fields[1]) == shmid:
                return int(fields[4]) == creator and int(fields[6]) == 0
    return False


def _first_packet(family, address):
    try:
        with socket.socket(family) as s:
            s.settimeout(1)
            s.connect(address)
            return s.recv(5)
    except OSError:
        return b""


SERVERS = {"postgres": _Postgres, "mariadb": _Mariadb}


# --- SQL through the command-line clients ----------------------------------------------------

def client_command(info, statement, database=None, as_app_user=False):
    """argv and env of psql / mariadb running a statement (or a list, each on its own): as superuser over the socket, or
    as the app user with its password over TCP (TLS verified against the CA when there is one)."""
    database = database or info["database"]
    if info["kind"] == "postgres":
        argv = [PG_BIN + "/psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
        env = dict(os.environ, PGCONNECT_TIMEOUT="10", PGAPPNAME="dbserver")
        for name in ("PGSERVICE", "PGSSLMODE", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSFILE"):
            env.pop(name, None)
        if as_app_user:
            env["PGPASSWORD"] = info["password"]
            conninfo = "host=127.0.0.1 port=%d user=%s dbname=%s" % (info["port"], info["user"], database)
            if info.get("ca"):
                conninfo += " sslmode=verify-full sslrootcert=" + info["ca"]
            else:
                conninfo += " sslmode=disable"
        else:
            env.pop("PGPASSWORD", None)
            conninfo = "host=%s port=%d user=%s dbname=%s" % (info["socket"], info["port"], info["superuser"], database)
        statements = [statement] if isinstance(statement, str) else statement
        return argv + ["-d", conninfo] + [a for st in statements for a in ("-c", st)], env
    argv = ["mariadb", "--no-defaults", "--batch", "--skip-column-names", "--connect-timeout=10"]
    env = dict(os.environ)
    if as_app_user:
        env["MYSQL_PWD"] = info["password"]
        argv += ["--protocol=tcp", "-h", "127.0.0.1", "-P", str(info["port"]), "-u", info["user"]]
        if info.get("ca"):
            argv += ["--ssl-ca=" + info["ca"], "--ssl-verify-server-cert"]
    else:
        env["MYSQL_PWD"] = info["superuser_password"]
        argv += ["--protocol=socket", "-S", info["socket"], "-u", info["superuser"]]
    return argv + ["-D", database, "-e", statement if isinstance(statement, str) else "; ".join(statement)], env


def run_sql(info, statement, database=None, as_app_user=False, timeout=30):
    """Runs statement -> rows as tuples of text (NULL reads as "NULL" on MariaDB, "" on
    PostgreSQL); DbServerError with the client's message if it fails."""
    argv, env = client_command(info, statement, database, as_app_user)
    result = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode:
        raise DbServerError("%s: %r failed: %s" % (os.path.basename(argv[0]), statement,
                                                 result.stderr.strip()))
    return [tuple(line.split("\t")) for line in result.stdout.splitlines()]


# --- the client side: a supervisor process per server ----------------------------------------

class DbServer:
    """A server run by its own supervisor (this file as a command). The fields come from the
    supervisor's JSON line: kind, host, port, user, password, database, socket, socket_dir,
    superuser, superuser_password, ca, dir, pid, startup_seconds."""

    def __init__(self, kind, tls=False, auth=None, parent=None):
        if kind not in KINDS:
            raise ValueError("kind must be one of %s, not %r" % (", ".join(KINDS), kind))
        argv = [PYTHON, os.path.abspath(__file__), "start", kind, "--exit-on-stdin-eof"]
        if parent:
            argv += ["--dir", parent]
        if tls:
            argv.append("--tls")
        if auth:
            argv += ["--auth", auth]
        self.kind, self.info = kind, {}
        self.supervisor = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._lines = b""
        first = self._read_line(START_TIMEOUT + 30, "its JSON line")
        if "error" in first:
            self.supervisor.wait()
            raise DbServerError(first["error"])
        self.info = first

    def __getattr__(self, name):
        try:
            return self.__dict__["info"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def url(self, **query):
        """postgresql://cronhost@127.0.0.1:PORT/app (mysql://... for MariaDB), plus ?query."""
        if not query:
            return self.info["url"]
        return self.info["url"] + "?" + "&".join("%s=%s" % item for item in query.items())

    def sql(self, statement, database=None):
        """statement as superuser over the unix socket -> rows (tuples of text)."""
        return run_sql(self.info, statement, database)

    def app_sql(self, statement, database=None):
        """statement as `cronhost` with its password over TCP -> rows (tuples of text)."""
        return run_sql(self.info, statement, database, as_app_user=True)

    def processes(self):
        """{pid: starttime} of the server and its children now."""
        return process_tree(self.info["pid"])

    def kill(self):
        """kill -9 the server and its children (the directory stays until stop())."""
        self._signal(signal.SIGUSR1, "killed")

    def restart(self):
        """Start the server again on its data and port (after kill(): crash recovery)."""
        self.info.update(pid=self._signal(signal.SIGUSR2, "started")["pid"])

    def stop(self):
        """Stop the server, remove its directory; nothing is left running. Idempotent."""
        if self.supervisor.poll() is None:
            self.supervisor.send_signal(signal.SIGTERM)
            try:
                self.supervisor.wait(STOP_TIMEOUT + 10)
            except subprocess.TimeoutExpired:
                self.supervisor.kill()  # its servers die with it (PR_SET_PDEATHSIG)
                self.supervisor.wait()
        for stream in (self.supervisor.stdin, self.supervisor.stdout):
            stream.close()
        if self.info.get("dir"):
            shutil.rmtree(self.info["dir"], ignore_errors=True)

    def _signal(self, signum, event):
        self.supervisor.send_signal(signum)
        answer = self._read_line(STOP_TIMEOUT + START_TIMEOUT, "event " + event)
        if answer.get("event") != event:
            raise DbServerError("%s: expected event %s, got %s" % (self.kind, event, answer))
        return answer

    def _read_line(self, timeout, what):
        deadline = time.monotonic() + timeout
        fd = self.supervisor.stdout.fileno()
        while b"\n" not in self._lines:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise DbServerError("dbserver %s: no %s within %ss" % (self.kind, what, timeout))
            chunk = os.read(fd, 65536)
            if not chunk:
                raise DbServerError("dbserver %s exited (rc %s) before %s"
                                    % (self.kind, self.supervisor.wait(), what))
            self._lines += chunk
        line, self._lines = self._lines.split(b"\n", 1)
        return json.loads(line)


def start(kind, tls=False, auth=None, parent=None):
    """A started DbServer of kind "postgres" or "mariadb"; use it as a context manager."""
    return DbServer(kind, tls=tls, auth=auth, parent=parent)


# --- the supervisor (command line) -----------------------------------------------------------

def _say(message):
    try:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass  # the caller went away; we still clean up


def supervise(args):
    # Signals wait until we ask for them: startup is never cut in the middle, and each one is
    # handled in this loop only. Children unblock them again (_server_child_setup).
    signal.pthread_sigmask(signal.SIG_BLOCK, CONTROL_SIGNALS)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() == 1:
        return 1  # the caller died before the line above
    server = None
    try:
        server = SERVERS[args.kind](args.dir, tls=args.tls, auth=args.auth)
        server.start()
        _say(server.info())
        watch = [sys.stdin.fileno()] if args.exit_on_stdin_eof else []
        while True:
            received = signal.sigtimedwait(CONTROL_SIGNALS, 0.2)
            signum = received.si_signo if received else None
            if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                break
            if signum == signal.SIGUSR1:
                server.kill()
                _say({"event": "killed"})
            elif signum == signal.SIGUSR2:
                if not server.running():
                    server.launch(server.port)
                _say({"event": "started", "pid": server.proc.pid})
            if watch and select.select(watch, [], [], 0)[0] and not os.read(watch[0], 4096):
                break  # the caller closed its end (or died)
        return 0
    except (DbServerError, OSError, subprocess.SubprocessError, KeyError) as e:
        _say({"error": "dbserver %s: %s" % (args.kind, e)})
        return 1
    finally:
        if server is not None:
            server.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start_command = commands.add_parser("start", help="start a server, print its JSON line, "
                                                      "stop it at SIGTERM/SIGINT")
    start_command.add_argument("kind", choices=KINDS)
    start_command.add_argument("--dir", help="folder to make the server's folder in "
                                              "(default: /dev/shm if roomy, else the temp folder)")
    start_command.add_argument("--tls", action="store_true",
                               help="a CA and a server certificate; the JSON names the CA in 'ca'")
    start_command.add_argument("--auth", choices=["mysql_native_password", "ed25519"],
                               help="MariaDB: the app user's auth plugin (default mysql_native_password)")
    start_command.add_argument("--exit-on-stdin-eof", action="store_true",
                               help="also stop when stdin (a pipe from the caller) closes")
    return supervise(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
