#!/usr/bin/env python3
"""cronhost beside its peers, in one sitting, for `make bench` (README, "Beside the peers").

The peers: croner, cron-parser and node-cron from npm (pinned by bench/peers/package-lock.json,
installed by `make bench-deps`) and APScheduler from Debian (python3-apscheduler, run by
/usr/bin/python3). Four measurements, each peer in a process of its own, one after another:

  nextfire      next-fire throughput on the same expressions, zones, start and number of fires
                (bench/peers/cases.json; cronhost's side is `cron_bench --peer-cases`); each
                peer's chain of fires is compared with cronhost's, and a difference is reported
  every-second  N jobs firing every second for S seconds (cronhost: dispatch_bench.py rate, every
                run a sandboxed Lua run persisted in SQLite; the peers: a callback that records
                the time): runs/s, share of slots run, lateness p50/p99, CPU, peak RSS
  lua           run_bench: one sandboxed Lua run, and persisted, against a bare Lua state with
                the same standard libraries (create, load the chunk, call, close)
  oneshot       `cronhost next --expr ... -n 5` from exec to exit against croner's and
                APScheduler's one-shot scripts (and bare node and python as the floor), median

Every figure goes to build/bench/peers.json with its ratio to cronhost's (peer / cronhost), and
the tables are printed as Markdown.

  CRONHOST_BIN=build/cronhost python3 bench/peers_bench.py [--seconds 20] [--jobs 1000,10000]
      [--only nextfire,every-second,lua,oneshot] [--out build/bench/peers.json]
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers")
ROOT = os.path.dirname(HERE)
BIN = os.path.abspath(os.environ.get("CRONHOST_BIN", os.path.join(ROOT, "build", "cronhost")))
BENCH_DIR = os.path.join(os.path.dirname(BIN), "bench")
PEER_PYTHON = os.environ.get("PEER_PYTHON", "/usr/bin/python3")  # Debian's, which sees python3-apscheduler
NODE = os.environ.get("NODE", "node")
NODE_LIBS = ["croner", "cron-parser", "node-cron"]
SCHEDULERS = ["croner", "node-cron", "apscheduler"]  # cron-parser only computes fires


def json_lines(cmd, **kwargs):
    """Runs cmd and returns the JSON objects it printed, one a line; raises with its stderr."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def ratio(value, reference):
    if value is None or reference in (None, 0):
        return None
    return value / reference


def iso(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
def bench_nextfire(repeats):
    cases = os.path.join(PEERS, "cases.json")
    lines = json_lines([os.path.join(BENCH_DIR, "cron_bench"), "--peer-cases", cases, "--repeats", str(repeats)])
    try:
        lines += json_lines([NODE, os.path.join(PEERS, "nextfire.js"), "--cases", cases, "--repeats", str(repeats)])
    except RuntimeError as e:
        print(f"nextfire: the npm peers failed: {e}", file=sys.stderr)
    try:
        lines += json_lines([PEER_PYTHON, os.path.join(PEERS, "nextfire_apscheduler.py"), "--cases", cases,
                             "--repeats", str(repeats)])
    except RuntimeError as e:
        print(f"nextfire: APScheduler failed: {e}", file=sys.stderr)
    ours = {(l["zone"], l["expr"]): l for l in lines if l["impl"] == "cronhost"}
    results = []
    for line in lines:
        ref = ours.get((line["zone"], line["expr"]))
        entry = {k: line.get(k) for k in ("impl", "label", "expr", "zone", "fires", "seconds", "fires_per_s", "error")}
        entry["ratio_to_cronhost"] = ratio(line.get("fires_per_s"), ref and ref.get("fires_per_s"))
        if "chain" in line and ref and "chain" in ref:
            diff = next((i for i, (a, b) in enumerate(zip(ref["chain"], line["chain"])) if a != b), None)
            entry["same_fires_as_cronhost"] = diff is None
            if diff is not None:
                entry["first_difference"] = {"fire": diff + 1, "cronhost": iso(ref["chain"][diff]),
                                             "peer": iso(line["chain"][diff])}
        results.append({k: v for k, v in entry.items() if v is not None})
    return results


def rate_text(per_s):
    if per_s is None:
        return "-"
    if per_s >= 1e6:
        return f"{per_s / 1e6:.1f} M/s"
    if per_s >= 1e3:
        return f"{per_s / 1e3:.0f} k/s"
    return f"{per_s:.0f}/s"


def table_nextfire(results):
    impls = ["cronhost"] + NODE_LIBS + ["apscheduler"]
    rows = [f"| case | zone | {' | '.join(impls)} |", "|---|---|" + "---|" * len(impls)]
    notes = []
    seen = []
    for r in results:
        if (r["label"], r["zone"]) not in seen:
            seen.append((r["label"], r["zone"]))
    for label, zone in seen:
        cells = []
        for impl in impls:
            r = next((x for x in results if x["impl"] == impl and x["label"] == label and x["zone"] == zone), None)
            if r is None:
                cells.append("-")
            elif "error" in r:
                cells.append("cannot")
                notes.append(f"{impl}, {label}, {zone}: {r['error']}")
            else:
                text = rate_text(r["fires_per_s"])
                if impl != "cronhost":
                    text += f" ({r['ratio_to_cronhost']:.2g}x)"
                if r.get("same_fires_as_cronhost") is False:
                    d = r["first_difference"]
                    text += " *"
                    notes.append(f"{impl}, `{r['expr']}` in {zone}: fire {d['fire']} is {d['peer']}, cronhost's {d['cronhost']}")
                cells.append(text)
        expr = next(x["expr"] for x in results if x["label"] == label)
        rows.append(f"| {label} `{expr}` | {zone} | {' | '.join(cells)} |")
    return "\n".join(rows), notes


# ---------------------------------------------------------------------------------------------
def bench_every_second(jobs, seconds):
    runs = []
    cmds = [("cronhost", [sys.executable, os.path.join(HERE, "dispatch_bench.py"), "rate", "--jobs", str(jobs),
                          "--seconds", str(seconds), "--json"]),
            ("croner", [NODE, os.path.join(PEERS, "every_second.js"), "--lib", "croner", "--jobs", str(jobs),
                        "--seconds", str(seconds)]),
            ("node-cron", [NODE, os.path.join(PEERS, "every_second.js"), "--lib", "node-cron", "--jobs", str(jobs),
                           "--seconds", str(seconds)]),
            ("apscheduler", [PEER_PYTHON, os.path.join(PEERS, "every_second_apscheduler.py"), "--jobs", str(jobs),
                             "--seconds", str(seconds)])]
    env = dict(os.environ, CRONHOST_BIN=BIN)
    for impl, cmd in cmds:
        print(f"every-second: {impl}, {jobs} jobs, {seconds} s ...", file=sys.stderr, flush=True)
        try:
            runs.append(json_lines(cmd, env=env)[-1])
        except (RuntimeError, IndexError) as e:
            runs.append({"impl": impl, "jobs": jobs, "seconds": seconds, "error": str(e)})
    ours = runs[0]
    for r in runs:
        r["ratio_to_cronhost"] = {k: ratio(r.get(k), ours.get(k)) for k in
                                  ("runs_per_s", "share", "lateness_p50_ms", "lateness_p99_ms", "cpu_pct_of_core", "max_rss_mb")}
    peers = [r for r in runs[1:] if r.get("lateness_p99_ms") is not None]
    best = min(peers, key=lambda r: r["lateness_p99_ms"]) if peers else None
    summary = {"jobs": jobs, "seconds": seconds, "runs": runs}
    if best and ours.get("lateness_p99_ms") is not None:
        summary["best_peer_p99"] = {"impl": best["impl"], "lateness_p99_ms": best["lateness_p99_ms"],
                                    "share": best["share"],
                                    "cronhost_p99_over_best_peer": ratio(ours["lateness_p99_ms"], best["lateness_p99_ms"])}
    return summary


def table_every_second(summaries):
    rows = ["| jobs, every second | scheduler | runs/s | slots run | lateness p50 | lateness p99 | CPU (of one core) | peak RSS |",
            "|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        for r in s["runs"]:
            if "error" in r:
                rows.append(f"| {s['jobs']:,} | {r['impl']} | failed: {r['error'][:80]} | | | | | |")
                continue
            q = r["ratio_to_cronhost"] if r["impl"] != "cronhost" else {}

            def x(key):
                v = q.get(key)
                return f" ({v:.2f}x)" if v is not None else ""
            rows.append(f"| {s['jobs']:,} | {r['impl']} | {r['runs_per_s']:,.0f} | {r['share'] * 100:.1f}% | "
                        f"{r['lateness_p50_ms']} ms{x('lateness_p50_ms')} | {r['lateness_p99_ms']} ms{x('lateness_p99_ms')} | "
                        f"{r['cpu_pct_of_core']:.0f}%{x('cpu_pct_of_core')} | {r['max_rss_mb']:.0f} MB{x('max_rss_mb')} |")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------
def bench_lua():
    cmd = [os.path.join(BENCH_DIR, "run_bench"), "--benchmark_filter=BM_LuaRun_", "--benchmark_repetitions=5",
           "--benchmark_report_aggregates_only=true", "--benchmark_format=json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"run_bench exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    report = json.loads(proc.stdout)  # one JSON document over many lines
    scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
    medians = {}
    for b in report["benchmarks"]:
        if b.get("aggregate_name") == "median":
            name = b["run_name"].removeprefix("BM_LuaRun_").split("/")[0]  # "Persisted/process_time"
            medians[name] = {"real_us": b["real_time"] * scale[b["time_unit"]],
                             "cpu_us": b["cpu_time"] * scale[b["time_unit"]]}
    bare = medians.get("BareState", {})
    for m in medians.values():
        m["ratio_to_bare"] = ratio(m["real_us"], bare.get("real_us"))
        m["cpu_ratio_to_bare"] = ratio(m["cpu_us"], bare.get("cpu_us"))
    return medians


def table_lua(medians):
    names = {"BareState": "bare Lua state, same libraries: create, load, call, close",
             "Sandboxed": "sandboxed run (fresh sandbox, script file, result)",
             "Persisted": "sandboxed run, claim and result persisted (SQLite)"}
    # CPU: of the whole process for the persisted run (its writer and checkpointer threads too).
    rows = ["| one trivial Lua run | median wall | x bare | median CPU | x bare |", "|---|---|---|---|---|"]
    for key, text in names.items():
        m = medians.get(key)
        if m:
            rows.append(f"| {text} | {m['real_us']:.1f} µs | {m['ratio_to_bare']:.2f}x | "
                        f"{m['cpu_us']:.1f} µs | {m['cpu_ratio_to_bare']:.2f}x |")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------
def bench_oneshot(runs, expr="0 3 * * *", zone="America/New_York"):
    cmds = {"cronhost": [BIN, "next", "--expr", expr, "--tz", zone, "-n", "5"],
            "croner": [NODE, os.path.join(PEERS, "oneshot_croner.js"), expr, zone],
            "apscheduler": [PEER_PYTHON, os.path.join(PEERS, "oneshot_apscheduler.py"), expr, zone],
            "floor: node -e 0": [NODE, "-e", "0"],
            "floor: python3 -c pass": [PEER_PYTHON, "-c", "pass"],
            "floor: /bin/true": ["/bin/true"]}  # what exec and exit cost here, measured the same way
    times = {name: [] for name in cmds}
    errors = {}
    with tempfile.TemporaryDirectory() as cwd:  # no cronhost.yaml to read
        for name, cmd in cmds.items():  # once first: page cache, and a check that it works
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
            if proc.returncode != 0 or (not name.startswith("floor") and len(proc.stdout.splitlines()) != 5):
                errors[name] = (proc.stderr or proc.stdout).strip()[-500:]
        for _ in range(runs):  # taking turns, so a change of load falls on all alike
            for name, cmd in cmds.items():
                if name in errors:
                    continue
                t0 = time.perf_counter()
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
                times[name].append((time.perf_counter() - t0) * 1000)
    ours = statistics.median(times["cronhost"]) if times["cronhost"] else None
    results = []
    for name in cmds:
        if name in errors:
            results.append({"impl": name, "error": errors[name]})
            continue
        med = statistics.median(times[name])
        results.append({"impl": name, "median_ms": med, "min_ms": min(times[name]), "max_ms": max(times[name]),
                        "runs": runs, "ratio_to_cronhost": ratio(med, ours)})
    return {"expr": expr, "zone": zone, "results": results}


def table_oneshot(o):
    rows = [f"| 5 next fires of `{o['expr']}` in {o['zone']}, exec to exit | median | range | x cronhost |",
            "|---|---|---|---|"]
    for r in o["results"]:
        if "error" in r:
            rows.append(f"| {r['impl']} | failed: {r['error'][:80]} | | |")
        else:
            rows.append(f"| {r['impl']} | {r['median_ms']:.1f} ms | {r['min_ms']:.1f}-{r['max_ms']:.1f} ms | "
                        f"{r['ratio_to_cronhost']:.1f}x |")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------
def versions():
    found = {"node": subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout.strip()}
    for lib in NODE_LIBS:
        try:
            with open(os.path.join(PEERS, "node_modules", lib, "package.json")) as f:
                found[lib] = json.load(f)["version"]
        except OSError:
            found[lib] = None
    found["apscheduler"] = subprocess.run(
        [PEER_PYTHON, "-c", "import importlib.metadata as m; print(m.version('APScheduler'))"],
        capture_output=True, text=True).stdout.strip() or None
    found["cronhost"] = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.strip()
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="every-second: length of the measured window")
    parser.add_argument("--jobs", default="1000,10000", help="every-second: job counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=10, help="nextfire: chains timed per case (after one of warm-up)")
    parser.add_argument("--oneshot-runs", type=int, default=20)
    parser.add_argument("--only", default="nextfire,every-second,lua,oneshot")
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "peers.json"))
    args = parser.parse_args()
    only = set(args.only.split(","))
    t0 = time.monotonic()
    report = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()},
              "versions": versions(),
              "settings": {"seconds": args.seconds, "jobs": args.jobs, "repeats": args.repeats,
                           "oneshot_runs": args.oneshot_runs},
              "ratio": "peer's figure / cronhost's figure, from the same sitting"}
    tables = []
    if "nextfire" in only:
        report["nextfire"] = bench_nextfire(args.repeats)
        table, notes = table_nextfire(report["nextfire"])
        tables.append("Next-fire throughput (fires/s; x cronhost):\n\n" + table +
                      "".join(f"\n\n\\* {n}" for n in notes))
    if "every-second" in only:
        report["every_second"] = [bench_every_second(int(n), args.seconds) for n in args.jobs.split(",")]
        text = table_every_second(report["every_second"])
        for s in report["every_second"]:
            b = s.get("best_peer_p99")
            if b:
                text += (f"\n\n{s['jobs']:,} jobs: cronhost's p99 / the best peer's ({b['impl']}, {b['lateness_p99_ms']} ms, "
                         f"{b['share'] * 100:.0f}% of slots run) = {b['cronhost_p99_over_best_peer']:.2f}")
        tables.append(f"Every-second jobs, {args.seconds} s window (x cronhost):\n\n" + text)
    if "lua" in only:
        report["lua"] = bench_lua()
        tables.append("Per-run overhead:\n\n" + table_lua(report["lua"]))
    if "oneshot" in only:
        report["oneshot"] = bench_oneshot(args.oneshot_runs)
        tables.append("One-shot CLI:\n\n" + table_oneshot(report["oneshot"]))
    report["machine"]["loadavg_after"] = os.getloadavg()
    report["elapsed_s"] = time.monotonic() - t0
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"peers: {report['date']}, {report['versions']}, load {report['machine']['loadavg_before'][0]:.1f} -> "
          f"{report['machine']['loadavg_after'][0]:.1f}, {report['elapsed_s']:.0f} s; figures in {args.out}\n")
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
