"""The state file under trouble, through the real daemon: a full disk (a small tmpfs mounted by
the test) and a second host reaching the same file through another name (symlink, hard link)."""
import errno
import json
import os
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from daemon_site import BIN, Site, wait_for

EVERY_SECOND = 'schedule: {cron: "* * * * * *"}\n'


class FullDisk:
    """A tmpfs of `size` mounted at a fresh folder; fill() takes every free byte, free() gives them back."""

    def __init__(self, size="8m"):
        self.root = tempfile.mkdtemp(prefix="cronhost-full-")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", self.root],
                           capture_output=True, text=True)
        if p.returncode != 0:
            os.rmdir(self.root)
            raise unittest.SkipTest(f"cannot mount a tmpfs for the full-disk test (needs root): {p.stderr.strip()}")
        self.filler = os.path.join(self.root, "filler")

    def fill(self):
        chunk = b"\0" * 4096
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while True:
                os.write(fd, chunk)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        finally:
            os.close(fd)

    def free(self):
        if os.path.exists(self.filler):
            os.remove(self.filler)

    def unmount(self):
        subprocess.run(["umount", "-l", self.root], capture_output=True)
        os.rmdir(self.root)


class FullDiskTest(unittest.TestCase):
    def setUp(self):
        self.disk = FullDisk()
        self.addCleanup(self.disk.unmount)
        self.site = Site("workers: 4\nshutdown_grace: 2s\n")
        self.addCleanup(self.site.cleanup)
        self.site.write("cronhost.yaml", "workers: 4\nshutdown_grace: 2s\n" + 'server: {listen: "127.0.0.1:0", '
                        f'port_file: "{self.site.port_file}", open: [health]}}\n')
        self.site.state = os.path.join(self.disk.root, "state.db")
        self.addCleanup(self.kill_host)

    def kill_host(self):
        self.site.kill_if_running()

    def health(self):
        with open(self.site.port_file) as f:
            port = int(f.read().strip())
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_health_tells_and_writes_are_kept_while_the_disk_is_full(self):
        s = self.site
        # Runs that last over the full spell: their finish is written while nothing can be.
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", "sleep(1.5) return {ok = true}\n")
        s.start()
        wait_for(lambda: os.path.exists(s.port_file), what="the API")
        wait_for(lambda: [r for r in s.runs("tick") if r["status"] == "running"], what="a running run")
        self.assertEqual(self.health()[0], 200)
        self.disk.fill()
        code, body = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(self.health()), timeout=15,
                              what="/health to answer 503 on a full disk")
        self.assertFalse(body["state_writable"])
        self.assertTrue(any("full" in p for p in body["problems"]), body)
        time.sleep(2)  # runs finish while the disk is full
        self.assertIsNone(s.proc.poll(), "the host exited on a full disk:\n" + s.log_text())
        self.disk.free()
        wait_for(lambda: self.health()[0] == 200, timeout=15, what="/health to recover once there is room")
        self.assertEqual(s.stop(), 0)
        stuck = [r for r in s.runs() if r["status"] in ("queued", "running")]
        self.assertEqual(stuck, [], "writes were dropped: rows left unfinished after a clean stop")
        log = s.log_text()
        self.assertIn("database or disk is full", log)
        self.assertEqual(log.count("state file commits are failing"), 1, "one log line per failure streak")

    def test_a_start_on_a_full_disk_with_unfinished_runs_exits_1_with_the_reason(self):
        s = self.site
        s.job("long", EVERY_SECOND + "run: {lua: scripts/long.lua}\n", "sleep(60)\n")
        s.start()
        wait_for(lambda: [r for r in s.runs("long") if r["status"] == "running"], what="a running run")
        s.kill9()  # the crash leaves the run running
        self.disk.fill()
        s.log = open(s.log_path, "ab")
        proc = subprocess.Popen([BIN, "run", "--jobs", os.path.join(s.root, "jobs.d"), "--state", s.state,
                                 "--config", os.path.join(s.root, "cronhost.yaml")], stdout=s.log, stderr=s.log)
        try:
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            s.log.close()
        self.assertEqual(code, 1, s.log_text())
        self.assertIn("database or disk is full", s.log_text().split("cronhost started")[-1])
        self.disk.free()
        s.start()  # with room again, the host starts and closes the crashed run
        wait_for(lambda: s.runs("long")[0]["status"] == "interrupted", what="the crashed run to be interrupted")
        self.assertEqual(s.stop(), 0)


class HostLockTest(unittest.TestCase):
    """One host per state file, whatever name the file is reached by."""

    def setUp(self):
        self.site = Site()
        self.addCleanup(self.site.cleanup)
        self.others = []
        self.addCleanup(self.stop_all)

    def stop_all(self):
        for proc in [getattr(self.site, "proc", None)] + self.others:
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()

    def second_host(self, state):
        """Starts another host on `state`; returns (exit code, output), or fails if it keeps running."""
        s = self.site
        log = os.path.join(s.root, "second.log")
        with open(log, "wb") as out:
            proc = subprocess.Popen([BIN, "run", "--jobs", os.path.join(s.root, "jobs.d"), "--state", state,
                                     "--config", os.path.join(s.root, "other.yaml")], stdout=out, stderr=out)
            self.others.append(proc)
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
        with open(log, errors="replace") as f:
            text = f.read()
        self.assertIsNotNone(code, f"a second host on {state} is running beside the first:\n{text}")
        return code, text

    def test_a_second_host_through_a_symlink_or_a_hard_link_refuses_to_start(self):
        s = self.site
        s.job("tick", EVERY_SECOND + "run: {lua: scripts/tick.lua}\n", "return {ok = true}\n")
        s.write("other.yaml", "workers: 1\nserver: {enabled: false}\n")
        s.start()
        wait_for(lambda: s.runs("tick"), what="a first run")
        symlink = os.path.join(s.root, "symlink.db")
        os.symlink(s.state, symlink)
        hard_link = os.path.join(s.root, "hard-link.db")
        os.link(s.state, hard_link)
        for other in (symlink, hard_link):
            code, text = self.second_host(other)
            self.assertEqual(code, 1, text)
            self.assertIn("another cronhost (pid %d) is using the state file" % s.proc.pid, text)
        self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
