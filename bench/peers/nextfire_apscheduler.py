#!/usr/bin/python3
"""Next-fire throughput of APScheduler (Debian's python3-apscheduler, 3.9) on the cases of
cases.json, for bench/peers_bench.py: the same chains as nextfire.js and `cron_bench
--peer-cases`. One JSON line per case with the chain's fires (Unix seconds).

  /usr/bin/python3 nextfire_apscheduler.py --cases cases.json [--repeats 10]

A 5-field expression becomes CronTrigger(second=0, ...), a 6-field one takes its seconds
field: from_crontab() reads five fields only. Each field is given explicitly, so APScheduler's
defaults for the fields below the most significant one given do not apply.
"""
import argparse
import datetime
import json
import os
import time

from apscheduler.triggers.cron import CronTrigger


def make_trigger(expr, zone):
    fields = expr.split()
    if len(fields) == 5:
        fields = ["0"] + fields
    second, minute, hour, day, month, day_of_week = fields
    return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                       day_of_week=day_of_week.lower(), timezone=zone)


def chain(trigger, start, n, out):
    # get_next_fire_time(previous, now) returns the first fire at or after now, or strictly
    # after previous when previous == now: the chain passes the last fire as both.
    d = trigger.get_next_fire_time(None, start)
    out[0] = d.timestamp()
    for i in range(1, n):
        d = trigger.get_next_fire_time(d, d)
        out[i] = d.timestamp()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default=os.path.join(os.path.dirname(__file__), "cases.json"))
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    with open(args.cases) as f:
        spec = json.load(f)
    # The start matches no case, so "at or after" and "strictly after" agree on the first fire.
    start = datetime.datetime.fromtimestamp(spec["start_unix"], datetime.timezone.utc)
    n = spec["chain"]
    for zone in spec["zones"]:
        for case in spec["cases"]:
            line = {"impl": "apscheduler", "label": case["label"], "expr": case["expr"], "zone": zone}
            try:
                trigger = make_trigger(case["expr"], zone)
                out = [0.0] * n
                chain(trigger, start, n, out)  # warm-up, not timed
                t0 = time.perf_counter()
                for _ in range(args.repeats):
                    chain(trigger, start, n, out)
                seconds = time.perf_counter() - t0
                line.update(fires=args.repeats * n, seconds=seconds, fires_per_s=args.repeats * n / seconds, chain=out)
            except Exception as e:  # a case the library cannot do is reported, not fatal
                line["error"] = f"{type(e).__name__}: {e}"
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
