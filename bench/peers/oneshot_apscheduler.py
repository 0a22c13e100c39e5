#!/usr/bin/python3
"""The one-shot equivalent of `cronhost next --expr EXPR --tz ZONE -n 5` with APScheduler, for
bench/peers_bench.py: /usr/bin/python3 oneshot_apscheduler.py EXPR ZONE"""
import datetime
import sys

from apscheduler.triggers.cron import CronTrigger

trigger = CronTrigger.from_crontab(sys.argv[1], timezone=sys.argv[2])
fire = trigger.get_next_fire_time(None, datetime.datetime.now(datetime.timezone.utc))
for _ in range(5):
    print(fire.isoformat())
    fire = trigger.get_next_fire_time(fire, fire)
