#!/usr/bin/env python3
"""API benchmarks for `make bench`:

  load  wrk asks for one job (GET /api/jobs/{name}) at about 2,000 requests/s while the host
        runs 1,000 jobs every second (1,000 runs/s): the request rate wrk reached, its latency
        percentiles, and the runs/s the host completed meanwhile.
  list  a host with 10,000 jobs: how long a page of the jobs list takes (the dashboard's).
"""
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from dispatch_bench import make_site, start, percentile  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"


def start_with_api(root):
    """Starts the host on `root` with a viewer token; returns (process, API port)."""
    config = open(f"{root}/cronhost.yaml").read().replace(
        'server: {listen: "127.0.0.1:0"}',
        f'server: {{listen: "127.0.0.1:0", port_file: "{root}/api.port", '
        f'tokens: [{{name: bench, role: viewer, token: "{TOKEN}"}}]}}')
    with open(f"{root}/cronhost.yaml", "w") as f:
        f.write(config)
    proc, _ = start(root)
    deadline = time.monotonic() + 60
    while not os.path.exists(f"{root}/api.port"):
        if time.monotonic() > deadline or proc.poll() is not None:
            sys.exit("the host did not start its API: " + open(f"{root}/host.log").read())
        time.sleep(0.05)
    return proc, int(open(f"{root}/api.port").read())


def bench_list(jobs=10000, samples=30):
    root = make_site(jobs, 'schedule: {cron: "0 3 * * *"}\nrun: {lua: scripts/t.lua}\n', workers=2)
    try:
        proc, port = start_with_api(root)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        figures = []
        for path in ["/api/jobs?limit=100", "/api/jobs?limit=100&prefix=j0099", "/api/jobs?limit=100&status=never"]:
            times = []
            for _ in range(samples):
                req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": "Bearer " + TOKEN})
                t0 = time.perf_counter()
                opener.open(req).read()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            figures.append(f"{path} p50 {percentile(times, 0.5):.1f} ms, max {times[-1]:.1f} ms")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        print(f"api list, {jobs} jobs: " + "; ".join(figures))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_load(jobs=1000, seconds=20, connections=10, delay_ms=4):
    root = make_site(jobs, 'schedule: {every: 1s, jitter: 999ms}\nrun: {lua: scripts/t.lua}\n'
                           'concurrency: allow\ncatchup: {policy: skip}\n', workers=2)
    try:
        proc, port = start_with_api(root)
        time.sleep(2)  # settle: every job loaded and firing
        window_start = int(time.time() * 1000)
        env = dict(os.environ, CRONHOST_BENCH_TOKEN=TOKEN, CRONHOST_BENCH_PATH="/api/jobs/j000500",
                   CRONHOST_BENCH_DELAY_MS=str(delay_ms))
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s",
                              os.path.join(os.path.dirname(__file__), "api_load.lua"), f"http://127.0.0.1:{port}"],
                             env=env, capture_output=True, text=True, timeout=seconds + 60)
        window_end = int(time.time() * 1000)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        m = re.search(r"RESULT (.*)", out.stdout)
        if not m:
            sys.exit("wrk failed:\n" + out.stdout + out.stderr)
        r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
        db = sqlite3.connect(f"{root}/state.db")
        done = db.execute("SELECT count(*) FROM runs WHERE status = 'succeeded' AND finished_at >= ? AND finished_at < ?",
                          (window_start, window_end)).fetchone()[0]
        lateness = sorted(x for (x,) in db.execute(
            "SELECT lateness_ms FROM runs WHERE started_at >= ? AND started_at < ? AND lateness_ms IS NOT NULL",
            (window_start, window_end)))
        rate = r["requests"] / (r["duration_us"] / 1e6)
        print(f"api: GET /api/jobs/j000500 at {rate:.0f} requests/s ({connections} connections, {seconds} s; "
              f"{r['non2xx']} non-2xx, {r['errors']} socket errors): latency p50 {r['p50_us'] / 1000:.2f} ms, "
              f"p90 {r['p90_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms, max {r['max_us'] / 1000:.1f} ms; "
              f"meanwhile the host completed {done / ((window_end - window_start) / 1000):.0f} runs/s "
              f"(lateness p99 {percentile(lateness, 0.99)} ms)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    {"load": bench_load, "list": bench_list}[sys.argv[1] if len(sys.argv) > 1 else "load"]()
