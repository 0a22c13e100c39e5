"""The database servers the engine tests stand on (tests/support/dbserver.py), tested for real:
each kind starts, takes the app user's password over TCP (and only that password), verifies
TLS against its CA, dies with kill -9 mid-query without leaving a client hanging, restarts on
its data, and leaves no process and no folder behind: after stop(), and after the test process
itself is killed. Prints start and stop times at the end.

    cd tests/integration && /usr/bin/python3 -m unittest test_dbserver
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import dbserver  # noqa: E402

TIMINGS = []


def tearDownModule():
    print("\ndatabase servers (start = spawn until ready, setup included):", file=sys.stderr)
    for line in TIMINGS:
        print("  " + line, file=sys.stderr)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.05)


class ServerTests:
    """The same checks for each kind; subclasses set KIND and the SQL that differs."""
    KIND = None
    SCHEME = None
    SLEEP = None          # a statement that runs for 30 s
    WHO_AM_I = None

    @classmethod
    def setUpClass(cls):
        started = time.monotonic()
        cls.server = dbserver.start(cls.KIND)
        TIMINGS.append("%-8s start %.2f s (supervisor: %.2f s)"
                       % (cls.KIND, time.monotonic() - started, cls.server.startup_seconds))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def client(self, server, statement, password):
        """The CLI client as the app user over TCP with `password` -> CompletedProcess."""
        info = dict(server.info, password=password)
        argv, env = dbserver.client_command(info, statement, as_app_user=True)
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)

    def test_the_app_user_round_trips_over_tcp_with_its_password(self):
        s = self.server
        self.assertEqual((s.host, s.user, s.database), ("127.0.0.1", "cronhost", "app"))
        self.assertEqual(s.url(), "%s://cronhost@127.0.0.1:%d/app" % (self.SCHEME, s.port))
        s.sql("CREATE TABLE round_trip (id int PRIMARY KEY, word varchar(20))")
        s.sql("GRANT ALL ON round_trip TO cronhost" if self.KIND == "postgres" else "SELECT 1")
        s.app_sql("INSERT INTO round_trip VALUES (1, 'süß'), (2, 'two')")
        self.assertEqual(s.app_sql("SELECT id, word FROM round_trip ORDER BY id"),
                         [("1", "süß"), ("2", "two")])
        self.assertEqual(s.app_sql(self.WHO_AM_I)[0][0].split("@")[0], "cronhost")
        self.assertEqual(s.sql("SELECT count(*) FROM round_trip"), [("2",)])

    def test_a_wrong_password_is_refused(self):
        result = self.client(self.server, "SELECT 1", "not-" + self.server.password)
        self.assertNotEqual(result.returncode, 0)
        self.assertRegex(result.stderr, "(?i)password authentication failed|access denied")
        self.assertEqual(self.client(self.server, "SELECT 1", self.server.password).stdout.strip(), "1")

    def test_kill_mid_query_then_restart_then_stop_leaves_nothing(self):
        started = time.monotonic()
        with dbserver.start(self.KIND) as s:
            TIMINGS.append("%-8s start %.2f s" % (self.KIND, time.monotonic() - started))
            s.sql("CREATE TABLE kept (id int)")
            s.sql("INSERT INTO kept VALUES (7)")
            argv, env = dbserver.client_command(s.info, self.SLEEP, as_app_user=True)
            query = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
            wait_until(lambda: s.sql(self.RUNNING) == [("1",)], 10, "the query to run")
            before = s.processes()
            killed = time.monotonic()
            s.kill()
            self.assertEqual(dbserver.still_running(before), {})
            _, err = query.communicate(timeout=10)  # the client sees the server go, no hang
            self.assertNotEqual(query.returncode, 0)
            self.assertLess(time.monotonic() - killed, 10)
            self.assertTrue(err.strip())
            self.assertTrue(os.path.isdir(s.dir))  # kept for restart() and for the log

            restarted = time.monotonic()
            s.restart()
            TIMINGS.append("%-8s restart after kill -9 %.2f s" % (self.KIND, time.monotonic() - restarted))
            self.assertEqual(s.sql("SELECT id FROM kept"), [("7",)])
            tree, folder = s.processes(), s.dir
            stopping = time.monotonic()
        TIMINGS.append("%-8s stop %.2f s" % (self.KIND, time.monotonic() - stopping))
        self.assertEqual(dbserver.still_running(tree), {})
        self.assertFalse(os.path.exists(folder))
        self.assertEqual(s.supervisor.returncode, 0)

    def test_a_killed_test_process_leaves_no_server_and_no_folder(self):
        # A test process that dies by SIGTERM without cleaning up (default action, no handler)
        child = subprocess.Popen(
            [dbserver.PYTHON, "-c", "import sys, time; sys.path.insert(0, %r); import dbserver\n"
             "s = dbserver.start(%r)\nprint(s.dir, s.pid, flush=True)\ntime.sleep(60)"
             % (os.path.dirname(dbserver.__file__), self.KIND)],
            stdout=subprocess.PIPE, text=True)
        try:
            folder, pid = child.stdout.readline().split()
            tree = dbserver.process_tree(int(pid))
            self.assertTrue(tree)
            child.send_signal(signal.SIGTERM)
            child.wait(10)
            wait_until(lambda: not dbserver.still_running(tree) and not os.path.exists(folder), 20,
                       "the orphaned server to stop and its folder to go")
        finally:
            child.kill()
            child.wait()
            child.stdout.close()

    def test_a_port_taken_before_the_server_binds_it_is_replaced_by_another(self):
        # free_port() is a guess: another process may take the port before the server binds it
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = taken.getsockname()[1]
            guesses, original = iter([busy]), dbserver.free_port
            dbserver.free_port = lambda: next(guesses, None) or original()
            server = dbserver.SERVERS[self.KIND](None)  # in this process, as the supervisor runs it
            try:
                server.start()
                self.assertNotEqual(server.port, busy)
                self.assertIn("already in use", server.log_tail(1 << 20))
                self.assertEqual(dbserver.run_sql(server.info(), "SELECT 1", as_app_user=True), [("1",)])
            finally:
                dbserver.free_port = original
                server.stop()
            self.assertFalse(os.path.exists(server.dir))

    def test_tls_is_verified_against_the_ca(self):
        started = time.monotonic()
        with dbserver.start(self.KIND, tls=True) as s:
            TIMINGS.append("%-8s start with TLS %.2f s" % (self.KIND, time.monotonic() - started))
            self.assertTrue(os.path.isfile(s.ca))
            self.assertEqual(s.app_sql(self.TLS_IN_USE)[0][-1], self.TLS_VERSION)  # verify-full
            other = dict(s.info, ca=os.path.join(s.dir, "server.pem"))  # not the CA: refused
            argv, env = dbserver.client_command(other, "SELECT 1", as_app_user=True)
            result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
            self.assertNotEqual(result.returncode, 0)
            self.assertRegex(result.stderr, "(?i)certificate")


class PostgresServerTest(ServerTests, unittest.TestCase):
    KIND, SCHEME = "postgres", "postgresql"
    SLEEP = "SELECT pg_sleep(30)"
    WHO_AM_I = "SELECT current_user"
    RUNNING = "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"
    TLS_IN_USE = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    TLS_VERSION = "TLSv1.3"

    def test_the_superuser_logs_in_over_tcp_too(self):
        s = self.server
        info = dict(s.info, user=s.superuser, password=s.superuser_password, database="postgres")
        argv, env = dbserver.client_command(info, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
                                            as_app_user=True)
        self.assertEqual(subprocess.run(argv, env=env, capture_output=True, text=True,
                                        timeout=30).stdout.strip(), "t")
        self.assertEqual(s.sql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid "
                               "WHERE rolname = 'cronhost'"), [("t",)])


    def test_kill_then_stop_leaves_no_shared_memory(self):
        # kill -9 skips the postmaster's own clean-up; a restart would do it, a stop must
        with dbserver.start(self.KIND) as s:
            with open(os.path.join(s.dir, "data", "postmaster.pid")) as f:
                shmid = f.read().split("\n")[6].split()[1]  # line 7: "key id" of the SysV segment
            self.assertIn(shmid, sysv_segments())
            self.assertEqual(s.sql("SHOW dynamic_shared_memory_type"), [("mmap",)])  # in data/
            s.kill()
        self.assertNotIn(shmid, sysv_segments())


def sysv_segments():
    """shmids of the System V shared memory segments now."""
    with open("/proc/sysvipc/shm") as f:
        return {line.split()[1] for line in f.readlines()[1:]}


class MariadbServerTest(ServerTests, unittest.TestCase):
    KIND, SCHEME = "mariadb", "mysql"
    SLEEP = "SELECT SLEEP(30)"
    WHO_AM_I = "SELECT current_user()"
    RUNNING = "SELECT count(*) FROM information_schema.processlist WHERE info = 'SELECT SLEEP(30)'"
    TLS_IN_USE = "SHOW SESSION STATUS LIKE 'Ssl_version'"
    TLS_VERSION = "TLSv1.3"

    def test_the_superuser_logs_in_over_tcp_too(self):
        s = self.server
        info = dict(s.info, user=s.superuser, password=s.superuser_password)
        argv, env = dbserver.client_command(info, "SELECT current_user(), @@character_set_server, "
                                            "@@time_zone", as_app_user=True)
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30).stdout
        self.assertEqual(out.split(), ["root@%", "utf8mb4", "+00:00"])

    def test_ed25519_for_the_app_user(self):
        with dbserver.start(self.KIND, auth="ed25519") as s:
            self.assertEqual(s.sql("SELECT plugin FROM mysql.user WHERE user = 'cronhost'"), [("ed25519",)])
            self.assertEqual(s.app_sql("SELECT 1"), [("1",)])


if __name__ == "__main__":
    unittest.main()
