"""Chaos on three `cronhost run` hosts sharing one PostgreSQL state (issue 14), for CHAOS_MINUTES
(default 30; `make chaos`, and a 2-minute run in ctest): every few seconds one fault at random
- a host killed (-9) and started again, a host paused (SIGSTOP) past its lease and resumed,
every cronhost connection ended by pg_terminate_backend, or PostgreSQL killed (-9) and started
again - under 30 every-second jobs counting in their kv, slow jobs with retries and jobs whose
first attempt fails. Then: no slot succeeded twice, no claim doubled, the kv counts match the
successes, no slot missing between a job's first and last (but slots due while the server was
down: caught up or not per the catch-up policy), fire lateness p99 outside the outages, and
crash -> retry times. Prints the figures; README "Chaos" quotes them."""
import collections
import os
import random
import signal
import socket
import time
import unittest

from daemon_site import Site, dbserver, wait_for
from test_cluster import Host

MINUTES = float(os.environ.get("CHAOS_MINUTES", "30"))
LEASE_S = 2
TICKS = 30
SLOW = 4
FLAKY = 2
# Slots due from this long before a server's kill until OUTAGE_TAIL_MS after it answers again
# are the outage's (for lateness: they are claimed once the hosts reconnect, 100 ms doubling to
# 1 s, and a claim in flight at the kill fails and is caught up).
OUTAGE_HEAD_MS = 3000
OUTAGE_TAIL_MS = 5000
# A read that failed (the server away) fails the run: `nil` there is not "never set".
COUNTER = "local n, err = state.get('n')\nif err then error(err) end\nn = n or 0\nassert(state.put('n', n + 1))\nreturn n + 1\n"
SLOW_SCRIPT = "sleep(1.5)\nreturn job.attempt\n"
FLAKY_SCRIPT = "if job.attempt == 1 then error('the first attempt always fails') end\nreturn job.attempt\n"
KINDS = ("kill9", "sigstop", "terminate", "pg_restart")


def now_ms():
    return int(time.time() * 1000)


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


class ClusterChaosTest(unittest.TestCase):
    def setUp(self):
        self.server = dbserver.DbServer("postgres")
        self.addCleanup(self.server.stop)
        self.site = Site(config="workers: 4\nshutdown_grace: 2s\ncluster: {lease: %ds}\n" % LEASE_S,
                         server=self.server)
        self.addCleanup(self.site.cleanup)
        self.hosts = {}
        self.faults = []  # (kind, start_ms, end_ms, host name or "")
        self.rng = random.Random(int(os.environ.get("CHAOS_SEED", "20261204")))

    def tearDown(self):
        for host in self.hosts.values():
            host.end()

    # --- the hosts
    def start_host(self, n):
        host = Host(self.site, n)
        wait_for(host.started, timeout=30, what="host %d to start" % n)
        self.assertIsNone(host.proc.poll(), host.log_text()[-3000:])
        self.hosts[n] = host
        return host

    @staticmethod
    def name(host):
        return "%s/%d" % (socket.gethostname(), host.proc.pid)

    # --- the faults
    def kill9(self):
        n = self.rng.choice(sorted(self.hosts))
        host = self.hosts[n]
        at = now_ms()
        host.proc.kill()
        host.proc.wait(timeout=10)
        host.log.close()
        time.sleep(self.rng.uniform(0.5, 2))
        self.start_host(n)
        return at, now_ms(), self.name(host)

    def sigstop(self):
        host = self.hosts[self.rng.choice(sorted(self.hosts))]
        at = now_ms()
        host.proc.send_signal(signal.SIGSTOP)
        time.sleep(self.rng.uniform(1.5, 2.5) * LEASE_S)
        host.proc.send_signal(signal.SIGCONT)
        return at, now_ms(), self.name(host)

    def terminate(self):
        at = now_ms()
        ended = self.server.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE datname = '%s' AND pid <> pg_backend_pid()" % self.site.database)
        return at, now_ms(), "%s connections" % ended[0][0]

    def pg_restart(self):
        at = now_ms()
        self.server.kill()
        time.sleep(self.rng.uniform(0.5, 2))
        self.server.restart()
        return at, now_ms(), ""

    def test_faults_at_random_lose_and_double_nothing(self):
        s = self.site
        for i in range(TICKS):
            s.job("tick%02d" % i, 'schedule: {cron: "* * * * * *"}\nrun: {lua: scripts/count.lua}\n'
                  "catchup: {policy: all, window: 1h}\n")
        s.write("scripts/count.lua", COUNTER)
        for i in range(SLOW):
            s.job("slow%d" % i, 'schedule: {cron: "*/2 * * * * *"}\nrun: {lua: scripts/slow.lua}\n'
                  "concurrency: allow\ntimeout: 1m\nretries: {attempts: 5, backoff: 1s}\n"
                  "catchup: {policy: all, window: 1h}\n")
        s.write("scripts/slow.lua", SLOW_SCRIPT)
        for i in range(FLAKY):
            s.job("flaky%d" % i, 'schedule: {cron: "* * * * * *"}\nrun: {lua: scripts/flaky.lua}\n'
                  "concurrency: allow\nretries: {attempts: 2, backoff: 1s}\ncatchup: {policy: all, window: 1h}\n")
        s.write("scripts/flaky.lua", FLAKY_SCRIPT)
        for n in range(3):
            self.start_host(n)
        began = now_ms()
        deadline = time.monotonic() + MINUTES * 60
        while time.monotonic() < deadline:
            time.sleep(self.rng.uniform(2, 5))
            kind = self.rng.choices(KINDS, weights=(35, 25, 20, 20))[0]
            start, end, what = getattr(self, kind)()
            self.faults.append((kind, start, end, what))
        # Owed retries (due within seconds) and reaping (a lease and a second) settle, then a clean stop.
        time.sleep(LEASE_S + 8)
        ended = now_ms()
        for host in self.hosts.values():
            host.proc.send_signal(signal.SIGTERM)
        for host in self.hosts.values():
            self.assertEqual(host.proc.wait(timeout=30), 0, host.log_text()[-3000:])
        self.report(began, ended)

    def report(self, began, ended):
        s = self.site
        outages = [(f[1] - OUTAGE_HEAD_MS, f[2] + OUTAGE_TAIL_MS) for f in self.faults if f[0] == "pg_restart"]

        def in_outage(ms):
            return any(a <= ms <= b for a, b in outages)

        # Nothing doubled: one claim per (job, slot, attempt), one success per slot.
        self.assertEqual(s.query("SELECT job, scheduled_for, attempt FROM runs GROUP BY 1, 2, 3 HAVING count(*) > 1"), [])
        doubled = s.query("SELECT job, scheduled_for FROM runs WHERE status = 'succeeded' "
                          "GROUP BY 1, 2 HAVING count(*) > 1")
        # A kv write lands only with its run's success (a refused late completion takes its write
        # with it), so no counter is ahead of the successes. It may be behind: a run's outcome and
        # kv writes commit after the run, and when that commit waits out a fault, the job's next
        # run on another host may already have read the old value (a get-then-put counter across
        # hosts loses that increment; use one host's kv per job, or an idempotent write).
        kv = {r["job"]: int(r["value"]) for r in s.query("SELECT job, value FROM kv WHERE key = 'n'")}
        successes = {r["job"]: r["n"] for r in s.query(
            "SELECT job, count(*) AS n FROM runs WHERE status = 'succeeded' GROUP BY job")}
        counted_wrong = {j: (kv[j], successes.get(j, 0)) for j in kv if kv[j] > successes.get(j, 0)}
        behind = sum(successes.get(j, 0) - kv[j] for j in kv if kv[j] < successes.get(j, 0))
        unfinished = s.query("SELECT id, job, status, host FROM runs WHERE status IN ('queued', 'running')")

        # Missed: a slot between a job's first and last with no row at all.
        rows = s.query("SELECT job, scheduled_for FROM runs WHERE trigger IN ('schedule', 'catchup') AND attempt = 1")
        slots = collections.defaultdict(set)
        for r in rows:
            slots[r["job"]].add(r["scheduled_for"])
        missed, outage_lost = [], 0
        for job, have in slots.items():
            step = 2000 if job.startswith("slow") else 1000
            for slot in range(min(have), max(have) + step, step):
                if slot not in have:
                    if in_outage(slot):
                        outage_lost += 1
                    else:
                        missed.append((job, slot))
        caught_up = s.query("SELECT count(*) AS n FROM runs WHERE trigger = 'catchup'")[0]["n"]

        # Lateness: a slot's claim (queued_at, this machine's one clock) after its time, but
        # slots due while the server was down.
        fired = s.query("SELECT scheduled_for, queued_at FROM runs WHERE trigger = 'schedule' AND status <> 'skipped' "
                        "AND queued_at IS NOT NULL")
        pauses = [(f[1], f[2] + 1000) for f in self.faults if f[0] == "sigstop"]

        def in_pause(ms):
            return any(a <= ms <= b for a, b in pauses)
        late = [r["queued_at"] - r["scheduled_for"] for r in fired if not in_outage(r["scheduled_for"])]
        late_calm = [r["queued_at"] - r["scheduled_for"] for r in fired
                     if not in_outage(r["scheduled_for"]) and not in_pause(r["scheduled_for"])]
        late_outage = [r["queued_at"] - r["scheduled_for"] for r in fired if in_outage(r["scheduled_for"])]

        # Crash -> retry: from the kill (or the pause) to the start of the retry of each run
        # the host held.
        reaped = s.query("SELECT job, scheduled_for, attempt, host, finished_at FROM runs WHERE status = 'interrupted' "
                         "AND error LIKE '%lost its lease%'")
        # A retry's row (its claim) is what the reaper owes; it may itself have been taken by a
        # later fault before it started.
        retries = {(r["job"], r["scheduled_for"], r["attempt"]): r["started_at"] for r in s.query(
            "SELECT job, scheduled_for, attempt, started_at FROM runs WHERE trigger = 'retry'")}
        attempts = {"slow": 5, "flaky": 2}
        crash_retry, pause_retry, no_retry = [], [], []
        for r in reaped:
            allowed = attempts.get(r["job"].rstrip("0123456789"), 1)
            key = (r["job"], r["scheduled_for"], r["attempt"] + 1)
            started = retries.get(key)
            if r["attempt"] < allowed and key not in retries:
                no_retry.append(r)
            # The fault that took the run away: its host's last kill or pause before the reap.
            cause = [f for f in self.faults if f[0] in ("kill9", "sigstop") and f[3] == r["host"] and f[1] <= r["finished_at"]]
            if started is not None and cause:
                kind, start = cause[-1][0], cause[-1][1]
                (crash_retry if kind == "kill9" else pause_retry).append(started - start)
        refused = sum(h.log_text().count("late completion refused") for h in self.hosts.values())
        total = s.query("SELECT count(*) AS n FROM runs")[0]["n"]

        counts = collections.Counter(f[0] for f in self.faults)
        print("\nchaos: %.1f min, %d faults (%s), %d runs; outages %d (%.1f s in all)" % (
            (ended - began) / 60000, len(self.faults), ", ".join("%s %d" % (k, counts[k]) for k in KINDS), total,
            len(outages), sum(f[2] - f[1] for f in self.faults if f[0] == "pg_restart") / 1000))
        print("  missed slots %d; doubled successes %d; kv counters ahead of successes %d, behind by %d in all; "
              "left unfinished %d; reaped %d; late completions refused %d" % (
                  len(missed), len(doubled), len(counted_wrong), behind, len(unfinished), len(reaped), refused))
        print("  slots due during outages: %d lost, %d catch-up runs in all (policy all)" % (outage_lost, caught_up))
        print("  fire lateness outside outages: p50 %d ms, p99 %d ms, max %d ms (%d fires); during: p99 %d ms" % (
            percentile(late, 50), percentile(late, 99), max(late), len(late), percentile(late_outage, 99)))
        print("  of which outside pauses too: p50 %d ms, p99 %d ms, max %d ms (%d fires)" % (
            percentile(late_calm, 50), percentile(late_calm, 99), max(late_calm), len(late_calm)))
        print("  crash -> retry started: p50 %s ms, p99 %s ms (%d runs); pause -> retry p99 %s ms (%d runs)" % (
            percentile(crash_retry, 50), percentile(crash_retry, 99), len(crash_retry),
            percentile(pause_retry, 99), len(pause_retry)))

        self.assertEqual(doubled, [])
        self.assertEqual(counted_wrong, {})
        self.assertEqual(unfinished, [])
        def around(ms):  # the faults near a slot, in seconds from it
            return ["%s %+.1f..%+.1f s %s" % (f[0], (f[1] - ms) / 1000, (f[2] - ms) / 1000, f[3])
                    for f in self.faults if f[1] - 10000 <= ms <= f[2] + 10000]
        self.assertEqual(missed[:10], [], "%d slots missed; faults around the first: %s"
                         % (len(missed), around(missed[0][1]) if missed else []))
        # Every job catches up with policy all: a slot due while the server was down is claimed
        # once the claims work again (the scheduler keeps the first slot a failed claim left).
        self.assertEqual(outage_lost, 0, "slots due during the server's outages not caught up")
        self.assertEqual(no_retry[:5], [], "reaped runs without a retry")
        # Across kills (the "host failure") a slot is late by the first claimer's head
        # start at most. While a host is stopped (SIGSTOP) it stays among the live hosts until its
        # heartbeat is a lease old, and it may hold claim rows in an open transaction: its jobs'
        # slots wait up to that lease. On a busy 2-core CI this came to ~1.5 s at p99 (2 runs of
        # 7 SIGSTOPs among 22 faults), so the bound across pauses is the lease.
        self.assertLessEqual(percentile(late_calm, 99), 1000, "lateness p99 across kills")
        self.assertLessEqual(percentile(late, 99), LEASE_S * 1000, "lateness p99 across kills and pauses")


if __name__ == "__main__":
    unittest.main()
