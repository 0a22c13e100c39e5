#!/usr/bin/env python3
"""API load check for `make bench`: wrk asks for one job (GET /api/jobs/{name}) at about
2,000 requests/s while the host runs 1,000 jobs every second (1,000 runs/s). Reports the
request rate wrk reached, its latency percentiles, and the runs/s the host completed meanwhile.
"""
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from dispatch_bench import make_site, start, percentile  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"


def main(jobs=1000, seconds=20, connections=10, delay_ms=4):
    root = make_site(jobs, 'schedule: {every: 1s, jitter: 999ms}\nrun: {lua: scripts/t.lua}\n'
                           'concurrency: allow\ncatchup: {policy: skip}\n', workers=2)
    config = open(f"{root}/cronhost.yaml").read().replace(
        'server: {listen: "127.0.0.1:0"}',
        f'server: {{listen: "127.0.0.1:0", port_file: "{root}/api.port", '
        f'tokens: [{{name: bench, role: viewer, token: "{TOKEN}"}}]}}')
    with open(f"{root}/cronhost.yaml", "w") as f:
        f.write(config)
    try:
        proc, _ = start(root)
        deadline = time.monotonic() + 30
        while not os.path.exists(f"{root}/api.port"):
            if time.monotonic() > deadline or proc.poll() is not None:
                sys.exit("the host did not start its API: " + open(f"{root}/host.log").read())
            time.sleep(0.05)
        port = int(open(f"{root}/api.port").read())
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
    main()
