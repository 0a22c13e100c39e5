"""Three `cronhost run` hosts on one PostgreSQL state, one host's clock 5 minutes ahead and one
5 minutes behind (Debian's libfaketime, preloaded into those hosts only): every slot still
fires exactly once and never before its time by the database's clock, which is the real one
here (the server runs on this machine, unfaked)."""
import datetime
import os
import re
import signal
import time
import unittest

from daemon_site import PostgresTestCase, Site, wait_for
from test_cluster import Host

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
EVERY_SECOND = 'schedule: {cron: "* * * * * *"}\n'
# Enough jobs that each of three hosts is first to claim some (rendezvous hashing): with 10
# and the minute jobs, a host was first for none in ~1.5% of runs, and rightly fired nothing.
TICKS = 30
# Minute jobs at three seconds of the minute, so a 50 s window sees at least two of them fire.
MINUTE_SECONDS = (7, 23, 41)
SKEWS = {1: "+5m", 2: "-5m"}  # host number -> FAKETIME
WINDOW_S = 50

# Every claim and start as the database's clock saw it, in microseconds: the host's own
# times (runs.queued_at, started_at) are on the host's clock, which is what is tested.
FIRE_TIMES = """
CREATE TABLE fire_times (run_id bigint, job text, scheduled_for bigint, trigger text, host text,
                         status text, at_us bigint);
CREATE FUNCTION note_fire() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fire_times VALUES (NEW.id, NEW.job, NEW.scheduled_for, NEW.trigger, NEW.host, NEW.status,
                                 (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
  RETURN NEW;
END $$;
CREATE TRIGGER note_fire AFTER INSERT ON runs FOR EACH ROW EXECUTE FUNCTION note_fire();
"""


def rendezvous_score(job, host_id):
    """store/rendezvous.cpp's score: FNV-1a 64 of job, NUL, id, then splitmix64's finaliser."""
    mask = (1 << 64) - 1
    h = 0xcbf29ce484222325
    for byte in job.encode() + b"\0" + host_id.encode():
        h = ((h ^ byte) * 0x100000001b3) & mask
    h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & mask
    h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & mask
    return h ^ (h >> 31)


def host_id(log):
    return re.search(r'msg="joined the hosts of the state database".* id=(\w+)', log).group(1)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def first_log_time(text):
    """The time stamp of a host's first log line (its own clock), as Unix seconds."""
    stamp = re.match(r"time=(\S+)", text).group(1)
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


class SkewedHost(Host):
    """A host whose wall clock reads `skew` off (FAKETIME syntax); its monotonic clock is real,
    as on a machine whose NTP is broken."""

    def __init__(self, site, n, skew):
        site.env = {**site.env, "LD_PRELOAD": FAKETIME_LIB, "FAKETIME": skew, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        try:
            super().__init__(site, n)
        finally:
            for key in ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC"):
                site.env.pop(key)


@unittest.skipUnless(os.path.exists(FAKETIME_LIB), "libfaketime is not installed (apt-get install faketime)")
class ClusterClockTest(PostgresTestCase):
    def setUp(self):
        self.site = Site(config="workers: 4\nshutdown_grace: 2s\ncluster: {lease: 2s}\n", server=self.server)
        self.addCleanup(self.site.cleanup)

    def start(self, host):
        self.addCleanup(host.end)
        wait_for(host.started, timeout=30, what="a host to start")
        self.assertIsNone(host.proc.poll(), host.log_text())
        return host

    def test_hosts_with_clocks_five_minutes_off_fire_every_slot_once_and_never_early(self):
        s = self.site
        for i in range(TICKS):
            s.job("tick%02d" % i, EVERY_SECOND + "run: {lua: scripts/tick.lua}\n")
        for second in MINUTE_SECONDS:
            s.job("minute%02d" % second, 'schedule: {cron: "%d * * * * *"}\nrun: {lua: scripts/tick.lua}\n' % second)
        s.write("scripts/tick.lua", "return 1\n")
        # The first host (a true clock) makes the schema; the database notes every claim from then on.
        hosts = [self.start(Host(s, 0))]
        self.server.app_sql(FIRE_TIMES, database=s.database)
        for n, skew in SKEWS.items():
            started = time.time()
            host = self.start(SkewedHost(s, n, skew))
            hosts.append(host)
            # faketime took: the host's log stamps read its own clock, 5 minutes off.
            off_s = first_log_time(host.log_text()) - started
            self.assertAlmostEqual(off_s, 300 if skew.startswith("+") else -300, delta=10, msg=host.log_text()[:500])
        since_us = int(time.time() * 1e6)
        time.sleep(WINDOW_S)
        until_us = int(time.time() * 1e6)
        for host in hosts:
            host.proc.send_signal(signal.SIGTERM)
        for host in hosts:
            self.assertEqual(host.proc.wait(timeout=30), 0, host.log_text()[-3000:])

        fires = s.query("SELECT * FROM fire_times WHERE trigger = 'schedule' AND status <> 'skipped' "
                        "AND scheduled_for * 1000 BETWEEN ? AND ? ORDER BY at_us", since_us, until_us)
        names = {h.proc.pid: "host%d%s" % (i, " (%s)" % SKEWS[i] if i in SKEWS else "") for i, h in enumerate(hosts)}
        by_host = {}
        for f in fires:
            by_host.setdefault(names[int(f["host"].rsplit("/", 1)[1])], []).append(f)
        # Early anywhere, not only in the window: a clock ahead claims slots of the future.
        early = s.query("SELECT * FROM fire_times WHERE status <> 'skipped' AND at_us < scheduled_for * 1000 "
                        "ORDER BY at_us")
        late_ms = [(f["at_us"] - f["scheduled_for"] * 1000) / 1000 for f in fires]
        print("\nclock skew: %d fires in %d s by %s; early %d; claim lateness by the database's clock "
              "p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
                  len(fires), WINDOW_S, {k: len(v) for k, v in sorted(by_host.items())}, len(early),
                  percentile(late_ms, 50), percentile(late_ms, 99), max(late_ms)))
        self.assertEqual(early[:5], [], "%d slots claimed before their time" % len(early))
        self.assertLess(percentile(late_ms, 99), 1000)
        # Every host fired its share, the skewed ones too (on time, as above): each is first to
        # claim some jobs (the others wait a head start for those).
        # A host without fires: its log says why (its clock offset, slots left to others).
        ids = {host_id(h.log_text()): h for h in hosts}
        jobs = ["tick%02d" % i for i in range(TICKS)] + ["minute%02d" % second for second in MINUTE_SECONDS]
        first = {max(ids, key=lambda i: rendezvous_score(job, i)) for job in jobs}
        print("hosts first to claim some jobs: %s" % sorted(names[ids[i].proc.pid] for i in first))
        silent = [ids[i] for i in first if names[ids[i].proc.pid] not in by_host]
        self.assertEqual(silent, [], "%s; the silent hosts' logs:\n%s" % (
            list(by_host.keys()), "\n".join("--- %s\n%s" % (names[h.proc.pid], h.log_text()[-4000:]) for h in silent)))

        # Exactly once: one run per slot, and no slot of the window without one.
        self.assertEqual(s.query("SELECT job, scheduled_for, attempt FROM runs GROUP BY 1, 2, 3 HAVING count(*) > 1"), [])
        for i in range(TICKS):
            job = "tick%02d" % i
            slots = sorted(f["scheduled_for"] for f in fires if f["job"] == job)
            self.assertEqual(slots, list(range(slots[0], slots[-1] + 1000, 1000)), job)
        self.assertGreaterEqual(len([f for f in fires if f["job"].startswith("minute")]), 2)
        for f in fires:
            self.assertEqual(f["scheduled_for"] % 1000, 0)
        # The runs' own times are the database's too: no run started before its slot.
        self.assertEqual(s.query("SELECT id, job, host, scheduled_for, started_at FROM runs "
                                 "WHERE started_at < scheduled_for"), [])
        # The skewed hosts said so, once; the true one did not.
        self.assertNotIn("clock is off", hosts[0].log_text())
        for n in SKEWS:
            said = re.findall(r"this host's clock is off from the database's by (-?\d+) ms", hosts[n].log_text())
            self.assertEqual(len(said), 1, hosts[n].log_text()[-3000:])
            self.assertAlmostEqual(abs(int(said[0])), 300000, delta=1000)


if __name__ == "__main__":
    unittest.main()
