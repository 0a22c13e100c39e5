#!/usr/bin/env python3
"""A table source of N rows on a real PostgreSQL (tests/support/dbserver.py), read by the real
daemon: the host's CPU for one re-read (query, render of every row, registry swap), rows
unchanged and rows all changed, and what that costs at every: 30s. For `make bench`.

Each read is started by a NOTIFY (source.listen) and is over when /health shows a newer
last_read_ms; the host's CPU (utime + stime of every thread, /proc) is taken around it, less
what the idle host uses in the same time.

  CRONHOST_BIN=build/cronhost /usr/bin/python3 bench/table_source_bench.py --rows 10000 --reads 10
"""
import argparse
import json
import os
import statistics
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import dbserver  # noqa: E402
from daemon_site import Site, wait_for  # noqa: E402

SOURCE = """source:
  db: app
  query: "SELECT id, cron_expression, timezone, enabled, note FROM workflow_schedules"
  every: 1h
  listen: bench_changed
job:
  name: "workflow-{{row.id}}"
  schedule: {cron: "{{row.cron_expression}}", timezone: "{{row.timezone}}"}
  enabled: "{{row.enabled}}"
  run: {http: {url: "https://app.internal/api/workflow/{{row.id}}/execute", method: POST}}
  params: {workflow: "{{row.id}}", note: "{{row.note}}"}
"""


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--reads", type=int, default=10)
    args = parser.parse_args()
    server = dbserver.DbServer("postgres")
    site = Site()
    try:
        server.app_sql("CREATE TABLE workflow_schedules (id int PRIMARY KEY, cron_expression text, timezone text, "
                       "enabled boolean, note text)")
        # Jobs that fire once a year: the scheduler idles, the reads are what is measured.
        server.app_sql("INSERT INTO workflow_schedules SELECT g, '0 3 1 1 *', 'Europe/Berlin', true, 'n' || g "
                       f"FROM generate_series(1, {args.rows}) g")
        site.write("cronhost.yaml", "workers: 2\nshutdown_grace: 2s\nlog: {level: warn}\ndatabases:\n"
                   f"  app: {{postgresql: '{server.url()}', password: '${{env:BENCH_PG_PW}}', tls: {{mode: disable}}}}\n"
                   f'server: {{listen: "127.0.0.1:0", port_file: "{site.port_file}", open: [health]}}\n')
        site.job("workflows", SOURCE)
        site.log = open(site.log_path, "ab")
        import subprocess
        site.proc = subprocess.Popen(
            [os.environ.get("CRONHOST_BIN", os.path.join(HERE, "..", "build", "cronhost")), "run",
             "--jobs", os.path.join(site.root, "jobs.d"), "--state", site.state,
             "--config", os.path.join(site.root, "cronhost.yaml")],
            stdout=site.log, stderr=site.log, env={**os.environ, "BENCH_PG_PW": server.password})
        wait_for(lambda: os.path.exists(site.port_file) and open(site.port_file).read().strip(), timeout=30,
                 what="the API")
        port = int(open(site.port_file).read().strip())

        def source():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as reply:
                return json.loads(reply.read()).get("table_sources", {}).get("workflows", {})

        wait_for(lambda: source().get("jobs") == args.rows, timeout=120, what=f"{args.rows} jobs")
        time.sleep(1)
        pid = site.proc.pid
        idle_from, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(5)
        idle_per_s = (cpu_seconds(pid) - idle_from) / (time.monotonic() - t0)

        def one_read(change):
            if change is not None:
                server.app_sql(f"UPDATE workflow_schedules SET note = 'n' || id || '-{change}'")
            last = source()["last_read_ms"]
            time.sleep(0.3)  # past the NOTIFY gap of the read before
            before, t = cpu_seconds(pid), time.monotonic()
            server.app_sql("NOTIFY bench_changed")
            wait_for(lambda: source()["last_read_ms"] > last, timeout=60, interval=0.01, what="the read")
            return cpu_seconds(pid) - before - idle_per_s * (time.monotonic() - t)

        for name, changed in (("unchanged rows", False), ("every row changed", True)):
            ms = [1000 * one_read(i if changed else None) for i in range(args.reads)]
            assert source()["jobs"] == args.rows, source()
            median = statistics.median(ms)
            print(f"table source, {args.rows} rows, {name}: {median:.0f} ms CPU per read (median of {args.reads}; "
                  f"min {min(ms):.0f}, max {max(ms):.0f}); at every: 30s {median / 300:.2f}% of a core")
        print(f"idle host: {idle_per_s * 100:.2f}% of a core")
    finally:
        site.cleanup()
        server.stop()


if __name__ == "__main__":
    main()
