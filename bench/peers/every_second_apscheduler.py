#!/usr/bin/python3
"""N jobs firing every second in one process with APScheduler (Debian's python3-apscheduler,
3.9), for bench/peers_bench.py; the same measurement as every_second.js. Each job is
CronTrigger(second='*') in UTC on a BackgroundScheduler with APScheduler's defaults (a
ThreadPoolExecutor of 10 threads; misfire_grace_time 1 s, coalesce, max_instances 1). Prints
one JSON object.

  /usr/bin/python3 every_second_apscheduler.py --jobs 10000 --seconds 20

A job function is not told its scheduled time, so each call appends time.time() to its job's
queue, and the EVENT_JOB_EXECUTED listener pairs the oldest with the event's
scheduled_run_time (a job's runs happen one at a time, in order). Missed slots are counted from
EVENT_JOB_MISSED and EVENT_JOB_MAX_INSTANCES.
"""
import argparse
import collections
import json
import logging
import math
import resource
import threading
import time

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--grace-ms", type=int, default=2000)
    args = parser.parse_args()
    # A warning per missed slot would be a load of its own.
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)

    started_at = time.time()
    calls = [collections.deque() for _ in range(args.jobs)]
    window = {"start": math.inf, "end": math.inf}
    lateness = []
    missed = [0]
    lock = threading.Lock()

    def job(i):
        calls[i].append(time.time())

    def listener(event):
        if event.code != EVENT_JOB_EXECUTED:
            missed[0] += 1
            return
        called = calls[int(event.job_id)].popleft()
        due = event.scheduled_run_time.timestamp()
        if window["start"] <= due < window["end"] and called < window["end"] + args.grace_ms / 1000:
            with lock:
                lateness.append((called - due) * 1000)

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    trigger = CronTrigger(second="*", timezone="UTC")
    for i in range(args.jobs):
        scheduler.add_job(job, trigger, args=(i,), id=str(i))
    scheduler.start()
    made = time.time()
    window["start"] = math.floor(made + 2) + 1
    window["end"] = window["start"] + args.seconds

    def cpu_now():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    time.sleep(max(0.0, window["start"] - time.time()))
    cpu0, wall0 = cpu_now(), time.time()
    time.sleep(max(0.0, window["end"] - time.time()))
    cpu, wall = cpu_now() - cpu0, time.time() - wall0
    time.sleep(max(0.0, window["end"] + args.grace_ms / 1000 - time.time()))
    scheduler.shutdown(wait=False)
    with lock:
        values = sorted(lateness)
    slots = args.jobs * args.seconds

    def pct(p):
        return round(values[min(len(values) - 1, int(len(values) * p))]) if values else None

    print(json.dumps({
        "impl": "apscheduler", "jobs": args.jobs, "seconds": args.seconds, "slots": slots, "fires": len(values),
        "share": len(values) / slots, "runs_per_s": len(values) / args.seconds,
        "lateness_p50_ms": pct(0.5), "lateness_p99_ms": pct(0.99), "lateness_max_ms": round(values[-1]) if values else None,
        "cpu_s": cpu, "cpu_pct_of_core": cpu / wall * 100, "window_wall_s": wall,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "missed_reported": missed[0],
        "setup_s": made - started_at,
    }), flush=True)


if __name__ == "__main__":
    main()
