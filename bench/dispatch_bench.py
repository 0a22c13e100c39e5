#!/usr/bin/env python3
"""Dispatch benchmarks for `make bench`: the real daemon on generated job folders.

  rate    N jobs each firing every second (spread across the second by jitter) running a
          trivial Lua script, for S seconds: runs/s persisted, dropped slots, lateness, CPU,
          peak RSS (--json: one JSON object instead of the line; bench/peers_bench.py reads it).
  idle    1,000 jobs whose next fire is an hour away: CPU used by the host over 10 s.
  load    N job files: time to start, CPU of SIGHUP reloads, resident memory, time to restart, and
          the time from SIGHUP to reloaded with no file changed and with every file changed.
  burst   N jobs every second on W workers whose Lua runs each hold ~22 MB for S seconds,
          then hold nothing: RSS under the burst and 10 s after it.
"""
import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("CRONHOST_BIN", os.path.join(os.path.dirname(__file__), "..", "build", "cronhost"))


def make_site(jobs, job_yaml, workers):
    root = tempfile.mkdtemp(prefix="cronhost-bench-")
    os.makedirs(f"{root}/jobs.d")
    os.makedirs(f"{root}/scripts")
    with open(f"{root}/scripts/t.lua", "w") as f:
        f.write("return {ok = true}\n")
    with open(f"{root}/cronhost.yaml", "w") as f:
        f.write(f"workers: {workers}\nshutdown_grace: 5s\nlog: {{level: warn}}\nserver: {{listen: \"127.0.0.1:0\"}}\n")
    for i in range(jobs):
        with open(f"{root}/jobs.d/j{i:06d}.yaml", "w") as f:
            f.write(job_yaml)
    return root


def start(root):
    log = open(f"{root}/host.log", "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen([BIN, "run", "--jobs", f"{root}/jobs.d", "--state", f"{root}/state.db",
                             "--config", f"{root}/cronhost.yaml"], stdout=log, stderr=log)
    # "cronhost started" is logged at info; with level warn we wait for the state file instead.
    while not os.path.exists(f"{root}/state.db"):
        if proc.poll() is not None:
            sys.exit("host exited: " + open(f"{root}/host.log").read())
        time.sleep(0.005)
    return proc, t0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid, field="VmRSS"):
    """The process's resident memory now (VmRSS) or at its peak so far (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p))] if values else None


def bench_rate(jobs, seconds, workers, as_json=False):
    """Prints the figures (a line, or a JSON object) and returns them as a dict."""
    root = make_site(jobs, 'schedule: {every: 1s, jitter: 999ms}\nrun: {lua: scripts/t.lua}\n'
                           'concurrency: allow\ncatchup: {policy: skip}\n', workers)
    try:
        proc, _ = start(root)
        time.sleep(2)  # settle: all jobs loaded and firing
        window_start = (int(time.time()) + 1) * 1000
        cpu0 = cpu_seconds(proc.pid)
        time.sleep(seconds + 1 + (window_start / 1000 - time.time()))
        window_end = window_start + seconds * 1000
        cpu = cpu_seconds(proc.pid) - cpu0
        time.sleep(1.5)  # the last slots of the window start and finish
        peak_rss = rss_mb(proc.pid, "VmHWM")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        db = sqlite3.connect(f"{root}/state.db")
        rows = db.execute("SELECT lateness_ms, status FROM runs WHERE scheduled_for >= ? AND scheduled_for < ?",
                          (window_start, window_end)).fetchall()
        lateness = sorted(r[0] for r in rows if r[0] is not None)
        ok = sum(1 for r in rows if r[1] == "succeeded")
        expected = jobs * seconds
        figures = {"impl": "cronhost", "jobs": jobs, "seconds": seconds, "workers": workers, "slots": expected,
                   "fires": ok, "missing": expected - len(rows), "share": ok / expected, "runs_per_s": ok / seconds,
                   "lateness_p50_ms": percentile(lateness, 0.5), "lateness_p99_ms": percentile(lateness, 0.99),
                   "lateness_max_ms": lateness[-1] if lateness else None, "cpu_s": cpu,
                   "cpu_pct_of_core": cpu / seconds * 100, "max_rss_mb": peak_rss}
        if as_json:
            print(json.dumps(figures))
        else:
            print(f"rate: {jobs} jobs every second, {seconds} s, {workers} workers: "
                  f"{ok / seconds:.0f} runs/s completed ({ok} of {expected} slots succeeded, {expected - len(rows)} missing); "
                  f"lateness p50 {figures['lateness_p50_ms']} ms, p99 {figures['lateness_p99_ms']} ms, "
                  f"max {figures['lateness_max_ms']} ms; host CPU {cpu / seconds * 100:.0f}% of one core, "
                  f"peak RSS {peak_rss:.0f} MB")
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_idle(jobs=1000, seconds=10):
    root = make_site(jobs, 'schedule: {cron: "0 0 * * *"}\nrun: {lua: scripts/t.lua}\n', 2)
    try:
        proc, _ = start(root)
        time.sleep(1)
        cpu0 = cpu_seconds(proc.pid)
        time.sleep(seconds)
        cpu = cpu_seconds(proc.pid) - cpu0
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        print(f"idle: {jobs} jobs firing hours from now: {cpu * 1000:.0f} ms of CPU in {seconds} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def reload_cpu_seconds(proc):
    """Sends SIGHUP; the CPU the host used until its CPU use stops growing."""
    cpu0 = cpu_seconds(proc.pid)
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    while True:
        c = cpu_seconds(proc.pid)
        time.sleep(0.2)
        if cpu_seconds(proc.pid) == c:
            return c - cpu0


def wait_for_log(proc, root, text, count=1):
    """Waits until host.log holds `text` `count` times."""
    while open(f"{root}/host.log", "rb").read().count(text) < count:
        if proc.poll() is not None:
            sys.exit("host exited: " + open(f"{root}/host.log").read())
        time.sleep(0.005)


def time_restart_and_reloads(root, job_yaml, jobs):
    """Seconds from exec to "cronhost started" on a state every job is in (the catch-up looks
    at each job's slots since its last fire); then seconds from SIGHUP to "reloaded" with no
    file changed, and with every file changed (each read again)."""
    with open(f"{root}/cronhost.yaml") as f:
        config = f.read()
    with open(f"{root}/cronhost.yaml", "w") as f:
        f.write(config.replace("log: {level: warn}", "log: {level: info}"))
    os.remove(f"{root}/host.log")
    proc, t0 = start(root)
    wait_for_log(proc, root, b"cronhost started")
    restarted = time.monotonic() - t0

    reloads = 0
    def time_reload():
        nonlocal reloads
        reloads += 1
        t = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        wait_for_log(proc, root, b"reloaded", reloads)
        return time.monotonic() - t

    unchanged = time_reload()
    changed_yaml = job_yaml + "description: changed\n"
    for i in range(jobs):
        with open(f"{root}/jobs.d/j{i:06d}.yaml", "w") as f:
            f.write(changed_yaml)
    time.sleep(2.5)  # past the 2 s in which the host does not trust a file's stamps
    changed = time_reload()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return restarted, unchanged, changed


def bench_load(jobs):
    job_yaml = ('schedule: {cron: "0 0 * * *", timezone: Europe/London}\nrun: {lua: scripts/t.lua}\n'
                'params: {image: ghcr.io/acme/app, channel: stable}\n')
    root = make_site(jobs, job_yaml, 2)
    try:
        with open(f"{root}/cronhost.yaml", "a") as f:
            f.write("")
        proc, t0 = start(root)
        # Started when the jobs are installed: job_state rows appear for each job.
        db_path = f"{root}/state.db"
        while True:
            try:
                n = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True).execute("SELECT count(*) FROM job_state").fetchone()[0]
            except sqlite3.Error:
                n = 0
            if n >= jobs:
                break
            time.sleep(0.01)
        started = time.monotonic() - t0
        # Resident memory with the jobs loaded: once the start's own transients are given back
        # (the rows appear while the host is still starting).
        time.sleep(1)
        rss = rss_mb(proc.pid)
        # The first reload reads again the files written in the 2 s before the start (too fresh
        # for the host to trust their stamps, config/job_file_cache.hpp); the second reads none.
        reload_cpu = [reload_cpu_seconds(proc) for _ in range(2)]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        restarted, unchanged, changed = time_restart_and_reloads(root, job_yaml, jobs)
        print(f"load: {jobs} job files: started in {started:.2f} s, reload took {reload_cpu[0]:.2f} s of CPU "
              f"(again, nothing changed: {reload_cpu[1]:.2f} s), RSS {rss:.0f} MB; "
              f"restarted on that state in {restarted:.2f} s; SIGHUP to reloaded {unchanged:.2f} s with no file "
              f"changed, {changed:.2f} s with every file changed")
    finally:
        shutil.rmtree(root, ignore_errors=True)


BURST_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "burst.lua")


def bench_burst(jobs, seconds, workers):
    root = make_site(jobs, 'schedule: {every: 1s, jitter: 999ms}\nrun: {lua: scripts/t.lua}\n'
                           'concurrency: allow\ncatchup: {policy: skip}\n', workers)
    try:
        with open(f"{root}/cronhost.yaml", "a") as f:
            f.write("limits: {memory_mb: 256}\n")
        end = int(time.time()) + 2 + seconds
        with open(f"{root}/scripts/t.lua", "w") as f:
            with open(BURST_SCRIPT) as script:
                f.write(f"if os.time() >= {end} then return 0 end\n" + script.read())
        proc, _ = start(root)
        time.sleep(max(0.0, end - time.time()))
        under = rss_mb(proc.pid)
        time.sleep(10)
        after = rss_mb(proc.pid)
        peak = rss_mb(proc.pid, "VmHWM")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        print(f"burst: {jobs} jobs on {workers} workers holding ~22 MB per run for {seconds} s: RSS {under:.0f} MB "
              f"at the end of the burst (peak {peak:.0f} MB), {after:.0f} MB 10 s after it")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["rate", "idle", "load", "burst"])
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--json", action="store_true", help="rate: print the figures as one JSON object")
    args = parser.parse_args()
    if args.what == "rate":
        bench_rate(args.jobs, args.seconds, args.workers, args.json)
    elif args.what == "idle":
        bench_idle()
    elif args.what == "burst":
        bench_burst(args.jobs, args.seconds, args.workers)
    else:
        bench_load(args.jobs)


if __name__ == "__main__":
    main()
