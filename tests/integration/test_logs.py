"""The host log parses, line by line, whatever the jobs throw at it: a real daemon's log
file and stderr in JSON (json.loads on every line) and in text (logfmt, parsed by the small
parser below), with hostile text in a job file's name, a job's params, its log lines, its
error and a SQLite error. And the log file: exactly the name the config gives, rotated by size
(FILE.1 .. FILE.keep) or by day (FILE.YYYY-MM-DD at local midnight, crossed under libfaketime),
reopened on SIGUSR1 in every mode."""
import json
import os
import re
import signal
import sqlite3
import time
import unittest

from api_site import SiteTestCase
from daemon_site import Site, wait_for

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
EVERY_SECOND = 'schedule: {cron: "* * * * * *"}\n'

# What a job writes to the host log, and what a reader gets back: the invalid UTF-8 (a stray
# byte, an overlong '/') as U+FFFD, the rest as it was (quotes, '=', a backslash, newlines, a
# tab, NUL, ESC, DEL, NEL and U+2028).
HOSTILE_LUA = r'"say \"hi\" key=value C:\\dir\nsecond line\r\n\ttab nul\0 esc\27 del\127 nel\194\133 ls\226\128\168 bad\255 over\192\175 end"'
HOSTILE_READ = ('say "hi" key=value C:\\dir\nsecond line\r\n\ttab nul\0 esc\x1b del\x7f nel\x85 ls\u2028 '
                'bad\ufffd over\ufffd\ufffd end')
# A job file whose name no job may have: the load error names the file, bytes and all.
HOSTILE_FILE = b'we"ird = na\nme\xff.yaml'
PARAM = 'a "quoted" b=c\nnext line'


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def parse_logfmt(line):
    """A logfmt line as {key: value}: bare values up to a space, quoted ones with JSON's
    escapes. Raises ValueError on anything else, so a broken line fails the test."""
    out, i = {}, 0
    while i < len(line):
        m = re.compile(r'([A-Za-z0-9_.\-]+)=').match(line, i)
        if not m:
            raise ValueError("no key=value at %d: %r" % (i, line))
        key, i = m.group(1), m.end()
        if key in out:
            raise ValueError("key %s twice in %r" % (key, line))
        if line.startswith('"', i):
            value, i = json.JSONDecoder().raw_decode(line, i)
        else:
            end = line.find(" ", i)
            end = len(line) if end < 0 else end
            value = line[i:end]
            if '"' in value or "=" in value:
                raise ValueError("a bare value with a quote or '=' in %r" % line)
            i = end
        out[key] = value
        if i < len(line):
            if line[i] != " ":
                raise ValueError("no space after %s's value in %r" % (key, line))
            i += 1
    return out


def log_records(path, fmt):
    """Every line of a log file parsed (JSON or logfmt); a line that does not parse fails."""
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")  # raises on invalid UTF-8: the host must have replaced it
    assert text == "" or text.endswith("\n"), "the last line of %s is cut: %r" % (path, text[-200:])
    records = []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        try:
            record = json.loads(line) if fmt == "json" else parse_logfmt(line)
        except ValueError as e:
            raise AssertionError("%s:%d does not parse as %s: %s\n%r" % (path, n, fmt, e, line))
        for key in ("time", "level", "msg"):
            assert key in record, "%s:%d has no %s: %r" % (path, n, key, line)
        records.append(record)
    return records


class LogFormatTest(SiteTestCase):
    """A daemon with hostile jobs; every line of its file and of its stderr parses."""

    def hostile_site(self, fmt):
        log_file = os.path.join("logs", "cronhost.log")
        s = self.site = Site(f"workers: 4\nshutdown_grace: 2s\nlog: {{format: {fmt}, file: {log_file}}}\n"
                             "databases:\n  app: {sqlite: app.db}\n")
        sqlite3.connect(os.path.join(s.root, "app.db")).close()
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        once = f"schedule: {{at: '{at}'}}\n"
        s.job("shouts", once + "params: {note: %s}\nrun: {lua: scripts/shouts.lua}\n" % json.dumps(PARAM),
              f"log.warn({HOSTILE_LUA})\nlog.info(job.params.note)\nerror({HOSTILE_LUA}, 0)\n")
        s.job("bad_sql", once + "allow: {db: [app]}\nrun: {lua: scripts/bad_sql.lua}\n",
              'local c = assert(db.open("app"))\nassert(c:query(\'SELECT "unterminated = x\\n FROM\'))\n')
        with open(os.path.join(s.root.encode(), b"jobs.d", HOSTILE_FILE), "w") as f:
            f.write("schedule: {cron: '0 0 1 1 *'}\nrun: {lua: scripts/shouts.lua}\n")
        s.start()
        # Only these columns: the run's output keeps the job's bytes as they were (not UTF-8).
        wait_for(lambda: len(s.query("SELECT job FROM runs WHERE status = 'failed'")) == 2, timeout=15,
                 what="both hostile runs to fail")
        self.assertEqual(s.stop(), 0)
        return os.path.join(s.root, log_file)

    def check_records(self, records):
        by_msg = {}
        for r in records:
            by_msg.setdefault(r["msg"], []).append(r)
        texts = [r["text"] for r in by_msg["job log"] if r["job"] == "shouts"]
        self.assertEqual(texts, [HOSTILE_READ, PARAM])
        finished = {r["job"]: r for r in by_msg["run finished"]}
        self.assertEqual(finished["shouts"]["error"], HOSTILE_READ.split("\n")[0])
        self.assertIn('unrecognized token: ""unterminated = x', finished["bad_sql"]["error"])
        problems = [r for r in by_msg["job file problem"] if "we\"ird" in r["where"]]
        self.assertEqual(len(problems), 1, by_msg["job file problem"])
        self.assertIn('we"ird = na\nme\ufffd.yaml:1:1', problems[0]["where"])
        self.assertIn("job name 'we\"ird = na\nme\ufffd'", problems[0]["problem"])

    def test_json_lines_are_json_objects_whatever_the_jobs_write(self):
        log_file = self.hostile_site("json")
        records = log_records(log_file, "json")
        self.check_records(records)
        shouts = [r for r in records if r["msg"] == "run finished" and r["job"] == "shouts"][0]
        self.assertIsInstance(shouts["run"], int)  # numbers stay numbers
        self.assertEqual(shouts["level"], "warning")
        self.assertRegex(shouts["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
        # stderr (the journal under systemd) holds the same lines.
        self.assertEqual([r["msg"] for r in log_records(self.site.log_path, "json")], [r["msg"] for r in records])

    def test_text_lines_are_logfmt_whatever_the_jobs_write(self):
        log_file = self.hostile_site("text")
        records = log_records(log_file, "text")
        self.check_records(records)
        self.assertEqual([r["msg"] for r in log_records(self.site.log_path, "text")], [r["msg"] for r in records])
        started = [line for line in read(log_file).split("\n") if 'msg="cronhost started"' in line]
        self.assertRegex(started[0], r'^time=\S+ level=info msg="cronhost started" ')


class LogFileTest(SiteTestCase):
    """The file's name and its rotation."""

    def chatty_site(self, log_yaml):
        """A host (not started) whose every-second job writes ~6 KB of log a second, to logs/."""
        s = self.site = Site(f"workers: 2\nshutdown_grace: 2s\nlog: {log_yaml}\n")
        s.job("chatty", EVERY_SECOND + "run: {lua: scripts/chatty.lua}\n",
              'for i = 1, 40 do log.info(string.format("line %02d of run %d: ", i, job.run_id), string.rep("x", 40)) end\n')
        return s, os.path.join(s.root, "logs")

    def reopen_after_rename(self, logs):
        """An outside rename, then SIGUSR1: a new file at the same path."""
        log_file = os.path.join(logs, "cronhost.log")
        os.rename(log_file, os.path.join(logs, "moved"))
        self.site.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: os.path.exists(log_file) and "log file reopened" in read(log_file),
                 what="the reopened file")
        wait_for(lambda: "chatty" in read(log_file), what="runs logged to the new file")

    def test_rotation_by_size_keeps_file_1_to_keep_each_under_max_size(self):
        s, logs = self.chatty_site("{file: logs/cronhost.log, rotate: size, max_size: 4KB, keep: 3}")
        s.start()
        wait_for(lambda: os.path.exists(os.path.join(logs, "cronhost.log.3")), timeout=20, what="cronhost.log.3")
        time.sleep(2)  # a few files' worth more: .3 is replaced, no .4 appears
        self.assertEqual(sorted(os.listdir(logs)), ["cronhost.log", "cronhost.log.1", "cronhost.log.2", "cronhost.log.3"])
        for name in os.listdir(logs):
            self.assertLessEqual(os.path.getsize(os.path.join(logs, name)), 4096, name)
            log_records(os.path.join(logs, name), "text")
        self.assertNotIn("cronhost started", read(os.path.join(logs, "cronhost.log.3")), "the oldest lines are gone")
        self.reopen_after_rename(logs)
        self.assertEqual(s.stop(), 0)

    def test_rotation_by_day_at_local_midnight_keeps_the_newest_days(self):
        s, logs = self.chatty_site("{file: logs/cronhost.log, keep: 2}")
        os.makedirs(logs)
        for day in ("2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03"):
            with open(os.path.join(logs, "cronhost.log." + day), "w") as f:
                f.write("time=%sT12:00:00.000+01:00 level=info msg=old\n" % day)
        # The host's wall clock starts at 23:59:52 in Europe/Berlin and runs at real speed
        # (libfaketime); the midnight is Berlin's, not UTC's (22:59:52 UTC).
        s.start(env={"LD_PRELOAD": FAKETIME_LIB, "FAKETIME": "@2026-12-04 23:59:52",
                     "FAKETIME_DONT_FAKE_MONOTONIC": "1", "TZ": "Europe/Berlin"})
        self.assertEqual(sorted(os.listdir(logs)), ["cronhost.log", "cronhost.log.2026-12-02", "cronhost.log.2026-12-03"],
                         "keep: 2 applies at start")
        log_file, dated = os.path.join(logs, "cronhost.log"), os.path.join(logs, "cronhost.log.2026-12-04")
        wait_for(lambda: os.path.exists(dated), timeout=25, what="the day's file")
        wait_for(lambda: "chatty" in read(log_file), what="the new day's runs")
        self.assertEqual(sorted(os.listdir(logs)), ["cronhost.log", "cronhost.log.2026-12-03", "cronhost.log.2026-12-04"])
        old_day = log_records(dated, "text")
        self.assertEqual({r["time"][:10] for r in old_day}, {"2026-12-04"})
        self.assertIn("cronhost started", [r["msg"] for r in old_day])
        new_day = log_records(log_file, "text")
        self.assertTrue(all(r["time"].startswith("2026-12-05T00:00:") and r["time"].endswith("+01:00") for r in new_day),
                        [r["time"] for r in new_day])
        self.reopen_after_rename(logs)
        self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
