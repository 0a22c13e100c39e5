"""Native plugins end to end through the real daemon: hostile plugins fail their own runs and
never the host, inline and isolated runs, reloading a replaced plugin file on SIGHUP, every
host capability against real servers, and the example plugins with their example job files.

The plugins come from the build folder that holds CRONHOST_BIN: test-plugins/ (one behaviour
each, tests/plugins) and plugins/ (the examples, plugins/examples). The daemon finds
cronhost-plugin-runner beside the host binary (build/libexec/cronhost/)."""
import ctypes
import errno
import http.server
import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
import unittest

from api_site import ApiSite, SiteTestCase, services, wait_for
from daemon_site import BIN

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.dirname(os.path.abspath(BIN))
TEST_PLUGINS = os.path.join(BUILD, "test-plugins")
EXAMPLE_PLUGINS = os.path.join(BUILD, "plugins")


def soon(seconds=3):
    """An RFC 3339 instant a few seconds ahead: a one-shot run right after the host starts."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def now_ms():
    return int(time.time() * 1000)


def built(name):
    """A plugin from test-plugins/ by its target name."""
    return os.path.join(TEST_PLUGINS, f"lib{name}.so")


class PluginSite(ApiSite):
    """An ApiSite with a plugins/ folder beside jobs.d and jobs that run plugins from it."""

    def __init__(self, config="", workers=2):
        super().__init__()
        self.write("cronhost.yaml", f"workers: {workers}\nshutdown_grace: 2s\n{config}")
        self.plugins = os.path.join(self.root, "plugins")
        os.makedirs(self.plugins)

    def add_plugin(self, source, name=None):
        """Copies a built plugin into plugins/; returns its path there."""
        target = os.path.join(self.plugins, name or os.path.basename(source))
        shutil.copyfile(source, target)
        return target

    def plugin_job(self, name, plugin, schedule="{every: 1h}", isolation=None, memory_mb=None, timeout=None,
                   params=None, allow=None, extra=""):
        """A job running plugins/<plugin> (copied there from test-plugins/ unless present).
        params and allow are dicts, written as JSON (which YAML reads as flow mappings)."""
        if not os.path.exists(os.path.join(self.plugins, plugin)):
            self.add_plugin(os.path.join(TEST_PLUGINS, plugin))
        run = {"plugin": f"plugins/{plugin}"}
        if isolation:
            run["isolation"] = isolation
        if memory_mb:
            run["memory_mb"] = memory_mb
        text = f"schedule: {schedule}\nrun: {json.dumps(run)}\n"
        if timeout:
            text += f"timeout: {timeout}\n"
        if params is not None:
            text += f"params: {json.dumps(params)}\n"
        if allow is not None:
            text += f"allow: {json.dumps(allow)}\n"
        self.job(name, text + extra)

    def finished(self, job):
        return [r for r in self.runs(job) if r["status"] not in ("queued", "running")]

    def results(self, job, since_ms=0):
        """Results (parsed) of the finished runs of `job` started at or after since_ms."""
        return [json.loads(r["result"]) if r["result"] else None
                for r in self.finished(job) if r["started_at"] >= since_ms]


class PluginTestCase(SiteTestCase):
    def setUp(self):
        super().setUp()
        for path in (BIN, built("empty"), os.path.join(EXAMPLE_PLUGINS, "libdisk_report.so")):
            self.assertTrue(os.path.exists(path), f"{path} is missing: build the project first")

    def stop_host(self):
        self.assertIsNone(self.site.proc.poll(), "the host exited:\n" + self.site.log_text())
        self.assertEqual(self.site.stop(), 0, self.site.log_text())


class HostileTest(PluginTestCase):
    """Plugins that crash, abort, exit, spin, eat memory, fork, write where they may not,
    break the ABI or lie about their struct: each fails its own run with a clear reason,
    while the host stays up and a heartbeat job keeps firing on time."""

    # job (and plugin) name -> (the run's status, texts its error must contain)
    CASES = {
        "crash_null": ("failed", ["SIGSEGV"]),
        "abort_run": ("failed", ["SIGABRT"]),
        "exit_run": ("failed", ["exited with status 3"]),
        "spin": ("timed_out", []),
        "alloc_forever": ("failed", ["malloc failed"]),
        "fork_bomb": ("failed", ["fork: Operation not permitted"]),
        "write_outside": ("failed", ["allow.files"]),
        "not_granted": ("failed", ["allow.http"]),
        "bad_result": ("failed", ["not JSON"]),
        "no_entry": ("failed", ["does not export cronhost_plugin_v1"]),
        "wrong_abi": ("failed", ["ABI 2.0", "1.3"]),
        "small_struct": ("failed", ["struct_size"]),
        "throws": ("failed", ["boom from C++"]),
    }

    def test_hostile_plugins_fail_their_runs_and_the_host_carries_on(self):
        # Workers for every hostile run at once and the heartbeat besides: a late heartbeat
        # then means the host itself was disturbed, not that the pool was full.
        s = self.site = PluginSite(workers=len(self.CASES) + 4)
        allowed = os.path.join(s.root, "allowed")
        forbidden = os.path.join(s.root, "forbidden")
        os.makedirs(allowed)
        os.makedirs(forbidden)
        direct = os.path.join(forbidden, "direct.txt")
        via_api = os.path.join(forbidden, "api.txt")
        s.job("heartbeat", "schedule: {every: 1s}\nrun: {lua: scripts/heartbeat.lua}\n", "return {beat = true}\n")
        at = f"{{at: '{soon(3)}'}}"
        for name in self.CASES:
            settings = {}
            if name == "spin":
                settings["timeout"] = "2s"
            if name == "alloc_forever":
                settings["memory_mb"] = 256
            if name == "write_outside":
                settings["params"] = {"path_direct": direct, "path_api": via_api}
                settings["allow"] = {"files": [allowed]}
            s.plugin_job(name, f"lib{name}.so", schedule=at, **settings)
        started = time.monotonic()
        s.start()

        wait_for(lambda: all(s.finished(name) for name in self.CASES), timeout=30, what="a finished run of each hostile job")
        hostile = {name: s.finished(name)[0] for name in self.CASES}
        window_start = min(r["started_at"] for r in hostile.values())
        window_end = max(r["finished_at"] for r in hostile.values())
        # The heartbeat's slot after the last hostile run ended, recorded.
        wait_for(lambda: [r for r in s.finished("heartbeat") if r["scheduled_for"] > window_end + 1000],
                 timeout=10, what="a heartbeat after the hostile runs")
        self.assertIsNone(s.proc.poll(), "the host died:\n" + s.log_text())
        self.stop_host()
        self.assertLess(time.monotonic() - started, 50)

        problems = []
        for name, (status, texts) in self.CASES.items():
            run = hostile[name]
            error = run["error"] or ""
            if run["status"] != status or not all(t in error for t in texts):
                problems.append(f"{name}: {run['status']}: {error!r} (expected {status} with {texts})")
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertIn("timed out after 2s", hostile["spin"]["error"])
        self.assertLess(hostile["spin"]["duration_ms"], 3500)  # killed at the deadline, not the CPU limit
        self.assertFalse(os.path.exists(direct), "the sandbox let a plugin write outside allow.files")
        self.assertFalse(os.path.exists(via_api))
        self.assertIn("files.write: ", hostile["write_outside"]["error"])
        self.assertIn("direct open of " + direct + " failed", hostile["write_outside"]["output"])
        self.assertIsNone(hostile["bad_result"]["result"], "text that is not JSON was stored as the result")
        for name in ("no_entry", "wrong_abi", "small_struct"):  # refused at load: named in the log at start
            self.assertIn(f"lib{name}.so (job {name}) cannot be loaded", s.log_text())

        # The heartbeat fired every second, on time, all through the hostile runs.
        beats = [r for r in s.runs("heartbeat") if window_start - 1000 <= r["scheduled_for"] <= window_end + 1000]
        self.assertGreaterEqual(len(beats), (window_end - window_start) // 1000 + 1, beats)
        self.assertEqual([r["status"] for r in beats], ["succeeded"] * len(beats))
        slots = [r["scheduled_for"] for r in beats]
        self.assertEqual([b - a for a, b in zip(slots, slots[1:])], [1000] * (len(slots) - 1), "a heartbeat was missed")
        late = [(r["scheduled_for"], r["lateness_ms"]) for r in beats if r["lateness_ms"] >= 500]
        self.assertEqual(late, [], "heartbeats fired late")
        starts = [r["started_at"] for r in beats]
        self.assertLessEqual(max(b - a for a, b in zip(starts, starts[1:])), 2500)


def sysv_ipc_objects():
    """{kind: {id: {column: value}}} of the System V IPC objects on this machine."""
    objects = {}
    for kind, id_column in (("shm", "shmid"), ("msg", "msqid"), ("sem", "semid")):
        with open(f"/proc/sysvipc/{kind}") as f:
            header, *rows = [line.split() for line in f]
        objects[kind] = {int(row[header.index(id_column)]): dict(zip(header, row)) for row in rows}
    return objects


def remove_sysv_ipc(kind, ids):
    """Removes System V IPC objects (what a hostile plugin left behind) with IPC_RMID."""
    libc = ctypes.CDLL(None, use_errno=True)
    ipc_rmid = 0
    for ident in ids:
        if kind == "shm":
            libc.shmctl(ident, ipc_rmid, None)
        elif kind == "msg":
            libc.msgctl(ident, ipc_rmid, None)
        else:
            libc.semctl(ident, 0, ipc_rmid)


def without_capabilities():
    """For preexec_fn: the process (root or not) execs with no capabilities at all."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    cap = 0
    while libc.prctl(pr_capbset_drop, cap, 0, 0, 0) == 0:
        cap += 1


# Run by a process without capabilities: can it read the environment of these processes?
READ_ENVIRON = """
import json, sys
out = {}
for name, pid in (("host", sys.argv[1]), ("control", sys.argv[2])):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            f.read()
        out[name] = "readable"
    except PermissionError:
        out[name] = "EACCES"
print(json.dumps(out))
"""


class EscapeTest(PluginTestCase):
    """Hostile plugins that go after the host's secrets through /proc, leave System V IPC
    objects behind them, or start threads without end: each attempt is refused, and the
    host's secret appears nowhere."""

    # The cap on an isolated run's tasks (host/plugin/pids_cgroup.hpp): its main thread and 255 more.
    MAX_RUN_TASKS = 256

    def test_the_hosts_proc_and_memory_are_closed(self):
        secret = "hunter2-" + os.urandom(8).hex()
        s = self.site = PluginSite()
        # A job that holds the secret: the host reads it at load, into its memory, from its environment.
        s.job("holds_secret", "schedule: {every: 1h}\nrun: {lua: scripts/holds_secret.lua}\n"
              "params: {token: '${env:CRONHOST_TEST_SECRET}'}\n", "return true\n")
        s.plugin_job("read_host_proc", "libread_host_proc.so", schedule=f"{{at: '{soon(3)}'}}",
                     params={"needle": "hunter2-"})
        s.start(env={"CRONHOST_TEST_SECRET": secret})
        wait_for(lambda: s.finished("read_host_proc"), timeout=20, what="the hostile run")
        self.stop_host()

        run = s.finished("read_host_proc")[0]
        self.assertEqual(run["status"], "succeeded", run)
        result = json.loads(run["result"])
        self.assertEqual(result["ppid"], s.proc.pid, "the plugin did not go after the host")
        self.assertEqual((result["environ"], result["maps"], result["mem"]), (errno.EACCES,) * 3, run["output"])
        self.assertEqual((result["environ_bytes"], result["mem_hits"]), (0, 0))
        for where, text in (("output", run["output"]), ("result", run["result"]), ("error", run["error"] or ""),
                            ("log", s.log_text())):
            self.assertNotIn(secret, text, where)
            self.assertNotIn(secret.encode().hex(), text, where)

    def test_the_host_is_not_dumpable(self):
        """Where the kernel has no Landlock, what keeps a runner (a process of the host's user,
        without capabilities) out of the host's /proc files is that the host is not dumpable.
        Shown directly: a host and a reader without capabilities; a dumpable process of the
        same kind is the control that the reader could read it otherwise."""
        s = self.site = PluginSite()
        s.start(preexec_fn=without_capabilities)
        control = subprocess.Popen(["/bin/sleep", "30"], preexec_fn=without_capabilities)
        try:
            reader = subprocess.run(["/usr/bin/python3", "-c", READ_ENVIRON, str(s.proc.pid), str(control.pid)],
                                    capture_output=True, text=True, timeout=10, preexec_fn=without_capabilities)
        finally:
            control.kill()
            control.wait()
        self.stop_host()
        self.assertEqual(json.loads(reader.stdout), {"host": "EACCES", "control": "readable"}, reader.stderr)

    def test_system_v_ipc_is_refused(self):
        s = self.site = PluginSite()
        s.plugin_job("sysv_ipc", "libsysv_ipc.so", schedule=f"{{at: '{soon(3)}'}}")
        before = sysv_ipc_objects()
        s.start()
        try:
            wait_for(lambda: s.finished("sysv_ipc"), timeout=20, what="the hostile run")
            self.stop_host()
            run = s.finished("sysv_ipc")[0]
            self.assertEqual(run["status"], "succeeded", run)
            result = json.loads(run["result"])
            self.assertEqual({k: result[k] for k in ("shmget", "segments", "msgget", "semget")},
                             {"shmget": errno.EPERM, "segments": 0, "msgget": errno.EPERM, "semget": errno.EPERM})
            left = [i for i, row in sysv_ipc_objects()["shm"].items() if row["cpid"] == str(result["pid"])]
            self.assertEqual(left, [], "shared memory segments outlived the run")
        finally:
            # Whatever a run before the fix left: not on this machine for good.
            for kind, objects in sysv_ipc_objects().items():
                remove_sysv_ipc(kind, [i for i, row in objects.items() if i not in before[kind] and row["key"] == "0"])

    def test_plugin_check_names_the_walls_of_this_machine(self):
        s = self.site = PluginSite()
        p = s.cli("plugin", "check", built("empty"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        abi = libc.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
        if abi > 0:
            self.assertIn(f"\nLandlock ABI {abi}: an isolated plugin reads only system libraries and its own files\n",
                          p.stdout)
        else:
            self.assertIn("\nwarning: Landlock is not available on this kernel", p.stdout)
        self.assertRegex(p.stdout, r"\n(threads of an isolated run capped at 256 tasks by a pids cgroup under /\S+"
                                   r"|warning: threads of an isolated run are not capped: .+)\n$")

    @unittest.skipUnless(os.geteuid() == 0, "only a root host can switch users")
    def test_run_as_gives_isolated_runs_a_user_without_privileges(self):
        s = self.site = PluginSite(config='run_as: "65534:65534"\n')
        os.chmod(s.root, 0o711)  # the user must reach the snapshot folder beside the state file
        s.plugin_job("probe_sandbox", "libprobe_sandbox.so", schedule=f"{{at: '{soon(3)}'}}")
        s.start()
        wait_for(lambda: s.finished("probe_sandbox"), timeout=20, what="the run")
        self.stop_host()
        run = s.finished("probe_sandbox")[0]
        self.assertEqual(run["status"], "succeeded", run)
        result = json.loads(run["result"])
        self.assertEqual((result["uid"], result["gid"], result["groups"]), (65534, 65534, 0))
        self.assertEqual(result["fork"], errno.EPERM)  # the other walls still stand

    def test_run_as_must_name_a_user_without_privileges(self):
        for value, problem in (("no-such-user-cronhost", "run_as: no user named no-such-user-cronhost on this host"),
                               ("root", "run_as: root is root (expected a user without privileges)"),
                               ("'0:0'", "run_as: 0:0 is root")):
            s = self.site = PluginSite(config=f"run_as: {value}\n")
            p = s.cli("validate", "--config", os.path.join(s.root, "cronhost.yaml"), "--jobs", os.path.join(s.root, "jobs.d"))
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertIn(problem, p.stdout + p.stderr)
            self.assertIn("cronhost.yaml:3:", p.stdout + p.stderr)  # after workers and shutdown_grace
            s.cleanup()

    def test_threads_are_capped(self):
        s = self.site = PluginSite()
        s.plugin_job("thread_bomb", "libthread_bomb.so", schedule=f"{{at: '{soon(3)}'}}", memory_mb=128)
        s.start()
        wait_for(lambda: s.finished("thread_bomb"), timeout=20, what="the hostile run")
        self.stop_host()
        if "threads of an isolated run are not capped" in s.log_text():
            self.skipTest("this machine gives the host no pids cgroup: " + s.log_text())
        run = s.finished("thread_bomb")[0]
        self.assertEqual(run["status"], "succeeded", run)
        self.assertEqual(json.loads(run["result"]), {"started": self.MAX_RUN_TASKS - 1, "error": errno.EAGAIN})
        self.assertIn("capped at 256 tasks by a pids cgroup", s.log_text())


class IsolationTest(PluginTestCase):
    """The same plugin code inline (in the host process) and isolated (a runner process)."""

    def test_inline_and_process_runs(self):
        s = self.site = PluginSite(workers=6)
        at = f"{{at: '{soon(3)}'}}"
        s.plugin_job("stopper_inline", "libstopper.so", schedule=at, isolation="inline", timeout="1s")
        s.plugin_job("throws_inline", "libthrows.so", schedule=at, isolation="inline")
        s.plugin_job("versioned_inline", "libversioned_v1.so", schedule=at, isolation="inline")
        s.plugin_job("old_abi_process", "libold_abi.so", schedule=at, isolation="process", params={"n": 1})
        s.plugin_job("old_abi_inline", "libold_abi.so", schedule=at, isolation="inline", params={"n": 2})
        jobs = ["stopper_inline", "throws_inline", "versioned_inline", "old_abi_process", "old_abi_inline"]
        s.start()
        wait_for(lambda: all(s.finished(j) for j in jobs), timeout=20, what="a run of each job")
        self.stop_host()
        run = {j: s.finished(j)[0] for j in jobs}

        self.assertEqual(run["throws_inline"]["status"], "failed")
        self.assertIn("boom from C++", run["throws_inline"]["error"])
        self.assertEqual(run["versioned_inline"]["status"], "succeeded", run["versioned_inline"])
        self.assertEqual(json.loads(run["versioned_inline"]["result"]), {"version": "1.0.0"})
        self.assertIn("[info] versioned 1.0.0", run["versioned_inline"]["output"])
        for job, n in (("old_abi_process", 1), ("old_abi_inline", 2)):
            self.assertEqual(run[job]["status"], "succeeded", run[job])
            result = json.loads(run[job]["result"])
            self.assertIs(result["old_abi"], True)
            self.assertGreater(result["host_struct_size"], 0)
            self.assertIn(f'old_abi params: {{"n":{n}}}', run[job]["output"])
        stopper = run["stopper_inline"]
        self.assertLess(stopper["duration_ms"], 2000)  # should_stop told it in time
        self.assertEqual(stopper["status"], "timed_out", stopper)
        self.assertIn("timed out after 1s", stopper["error"])


class LuaIsolationTest(PluginTestCase):
    """Lua scripts with run.isolation: process: the same script gives the same result and
    output as inline, its API calls keep their allowlists, and a runaway script (a loop, a
    memory hog) ends its own run only."""

    SCRIPT = """
local util = require("util")
log.info("double ", util.double(21), " for ", job.name)
local n = (state.get("n") or 0) + 1
assert(state.put("n", n))
local ok, err = pcall(http.get, "http://example.com/")
log.warn("denied: ", err)
local body, read_err = files.read(DIR .. "/missing.txt")
assert(files.write(DIR .. "/" .. job.name .. ".txt", "written"))
return {n = n, read_err = read_err ~= nil, text = files.read(DIR .. "/" .. job.name .. ".txt"),
        v = semver.parse("1.2.3").minor, io = type(io), execute = type(os.execute), null = json.null}
"""

    def test_isolated_lua_matches_inline_and_stops_runaways(self):
        s = self.site = PluginSite(workers=6)
        data = os.path.join(s.root, "data")
        os.makedirs(data)
        s.write("scripts/lib/util.lua", "return {double = function(x) return 2 * x end}\n")
        at = f"{{at: '{soon(3)}'}}"
        script = f"local DIR = {json.dumps(data)}\n" + self.SCRIPT
        allow = f"allow: {{files: [{json.dumps(data)}], http: ['http://127.0.0.1:9/']}}\n"
        for name, isolation in (("lua_inline", "inline"), ("lua_process", "process")):
            s.job(name, f"schedule: {at}\nrun: {{lua: scripts/{name}.lua, isolation: {isolation}}}\n" + allow, script)
        s.job("lua_spin", f"schedule: {at}\ntimeout: 1s\nrun: {{lua: scripts/lua_spin.lua, isolation: process}}\n",
              "print('spinning')\nwhile true do end\n")
        s.job("lua_hog", f"schedule: {at}\nrun: {{lua: scripts/lua_hog.lua, isolation: process}}\n",
              "local t = {}\nwhile true do t[#t + 1] = string.rep('x', 1 << 20) .. #t end\n")
        s.job("lua_error", f"schedule: {at}\nrun: {{lua: scripts/lua_error.lua, isolation: process}}\n",
              "local function inner() error('boom') end\ninner()\n")
        jobs = ["lua_inline", "lua_process", "lua_spin", "lua_hog", "lua_error"]
        s.start()
        wait_for(lambda: all(s.finished(j) for j in jobs), timeout=20, what="a run of each job")
        self.stop_host()
        run = {j: s.finished(j)[0] for j in jobs}

        for name in ("lua_inline", "lua_process"):
            self.assertEqual(run[name]["status"], "succeeded", run[name])
            self.assertEqual(json.loads(run[name]["result"]),
                             {"n": 1, "read_err": True, "text": "written", "v": 2, "io": "nil", "execute": "nil",
                              "null": None})
        expected = lambda name: (f"[info] double 42 for {name}\n"
                                 "[warn] denied: http: http://example.com/ is not allowed for job "
                                 f"{name} (allow.http)\n")
        self.assertEqual(run["lua_inline"]["output"], expected("lua_inline"))
        self.assertEqual(run["lua_process"]["output"], expected("lua_process"))
        self.assertEqual(run["lua_spin"]["status"], "timed_out", run["lua_spin"])
        self.assertIn("spinning", run["lua_spin"]["output"])
        self.assertEqual(run["lua_hog"]["status"], "failed", run["lua_hog"])
        self.assertIn("memory limit 64 MiB exceeded", run["lua_hog"]["error"])
        self.assertEqual(run["lua_error"]["status"], "failed")
        self.assertRegex(run["lua_error"]["error"], r"lua_error.lua:1: boom\nstack traceback:")

    def test_list_shows_process_isolation(self):
        s = self.site = PluginSite()
        s.job("script", "schedule: {every: 1h}\nrun: {lua: scripts/script.lua, isolation: process}\n", "return 1\n")
        p = s.cli("list", "--jobs", os.path.join(s.root, "jobs.d"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"lua \S*scripts/script\.lua \(process\)")


class ReloadTest(PluginTestCase):
    """A plugin file replaced on disk: runs keep the snapshot until SIGHUP, then take the new
    build; a build that cannot load leaves the last good one running."""

    def replace_by_rename(self, source, target):
        shutil.copyfile(source, target + ".new")
        os.replace(target + ".new", target)

    def overwrite_in_place(self, source, target):
        shutil.copyfile(source, target)  # the same inode, rewritten: what `cp` does

    def check_reload(self, replace):
        s = self.site = PluginSite(workers=4)
        plugin = s.add_plugin(built("versioned_v1"), "libversioned.so")
        jobs = ("versioned", "versioned_inline")
        s.plugin_job("versioned", "libversioned.so", schedule="{every: 1s}", isolation="process")
        s.plugin_job("versioned_inline", "libversioned.so", schedule="{every: 1s}", isolation="inline")
        s.start()
        snapshots = s.state + ".plugins"
        for job in jobs:
            wait_for(lambda: {"version": "1.0.0"} in s.results(job), what=f"a 1.0.0 run of {job}")
        self.assertTrue(os.listdir(snapshots), "no snapshot beside the state file")

        # Replaced on disk, not reloaded: the snapshot keeps running.
        replace(built("versioned_v2"), plugin)
        replaced_at = now_ms()
        for job in jobs:
            wait_for(lambda: len(s.results(job, replaced_at)) >= 2, what=f"two runs of {job} after the replacement")
            self.assertEqual(s.results(job, replaced_at), [{"version": "1.0.0"}] * len(s.results(job, replaced_at)),
                             f"{job} ran the replaced file before SIGHUP")

        s.hup()
        reloaded_at = now_ms()
        for job in jobs:
            wait_for(lambda: len(s.results(job, reloaded_at)) >= 2, what=f"two runs of {job} after the reload")
            self.assertEqual(s.results(job, reloaded_at), [{"version": "2.0.0"}] * len(s.results(job, reloaded_at)))

        # A broken build: reported, and the last good one keeps running.
        replace(built("wrong_abi"), plugin)
        s.hup()
        broken_at = now_ms()
        for job in jobs:
            wait_for(lambda: len(s.results(job, broken_at)) >= 2, what=f"two runs of {job} after the broken reload")
        self.stop_host()
        for job in jobs:
            runs = [r for r in s.finished(job) if r["started_at"] >= broken_at]
            self.assertEqual([r["status"] for r in runs], ["succeeded"] * len(runs))
            self.assertEqual(s.results(job, broken_at), [{"version": "2.0.0"}] * len(runs))
            slots = [r["scheduled_for"] for r in s.runs(job)]
            self.assertEqual(len(slots), len(set(slots)), f"{job}: a slot ran twice")
        log = s.log_text()
        self.assertIn("cannot be loaded", log)
        self.assertIn("ABI 2.0", log)
        self.assertIn("last good build, versioned 2.0.0", log)
        self.assertFalse(os.path.exists(snapshots), "the snapshot folder outlived the host")

    def test_replace_by_rename_then_sighup(self):
        self.check_reload(self.replace_by_rename)

    def test_overwrite_in_place_then_sighup(self):
        self.check_reload(self.overwrite_in_place)


class CapabilitiesTest(PluginTestCase):
    """Every host capability a plugin can reach, isolated and inline, against real servers."""

    def make_site(self):
        s = self.site = PluginSite(workers=4)
        self.http = self.serve(services.HttpReceiver(s.tmp))
        self.smtp = self.serve(services.SmtpSink(s.tmp))
        s.write("cronhost.yaml", "workers: 4\nshutdown_grace: 2s\n"
                f"smtp: {{host: 127.0.0.1, port: {self.smtp.port}, tls: none, from: 'Cron <cron@acme.test>'}}\n"
                "databases:\n  app: {sqlite: app.db}\n")
        db = sqlite3.connect(os.path.join(s.root, "app.db"))
        db.execute("CREATE TABLE other (y)")
        db.commit()
        db.close()
        self.folders = {}
        for job, isolation in (("caps_process", "process"), ("caps_inline", "inline")):
            folder = self.folders[job] = os.path.join(s.root, "out_" + isolation)
            os.makedirs(folder)
            s.plugin_job(job, "libcapabilities.so", schedule="{every: 2s}", isolation=isolation,
                         params={"url": f"{self.http.url}/ping", "db": "app", "folder": folder, "mail_to": "ops@acme.test"},
                         allow={"http": [f"{self.http.url}/"], "db": ["app"], "files": [folder], "mail": ["*@acme.test"]},
                         extra="concurrency: forbid\n")
        return s

    def test_every_capability_isolated_and_inline(self):
        s = self.make_site()
        s.start()
        for job in self.folders:
            wait_for(lambda: len(s.finished(job)) >= 2, timeout=20, what=f"two runs of {job}")
        self.stop_host()

        sent = 0
        message_ids = []
        for job, folder in self.folders.items():
            runs = s.finished(job)
            self.assertEqual([r["status"] for r in runs], ["succeeded"] * len(runs), runs)
            results = [json.loads(r["result"]) for r in runs]
            self.assertEqual([r["runs"] for r in results], list(range(1, len(runs) + 1)), "the state counter")
            for result in results:
                self.assertGreater(result["time_left_ms"], 0)
                self.assertEqual(result["http"], {"status": 200})
                self.assertEqual(result["db"]["inserted"], 1)
                self.assertTrue(result["db"]["rows"])
                self.assertTrue(all(row == {"x": 42} for row in result["db"]["rows"]), result["db"])
                self.assertEqual(result["files"], {"content": "written by capabilities", "names": ["out.txt"]})
                self.assertIs(result["mail"]["sent"], True, result["mail"])
            self.assertIn("[info] capabilities: {", runs[0]["output"])
            with open(os.path.join(folder, "out.txt")) as f:
                self.assertEqual(f.read(), "written by capabilities")
            sent += len(runs)
            message_ids += [r["mail"]["message_id"] for r in results]
        # Both jobs insert into the one table: one row per run of either.
        db = sqlite3.connect(os.path.join(s.root, "app.db"))
        self.assertEqual(db.execute("SELECT count(*), min(x), max(x) FROM t").fetchone(), (sent, 42, 42))
        db.close()
        self.assertEqual(len([q for q in self.http.requests() if q["path"] == "/ping"]), sent)
        mails = self.smtp.wait_messages(sent)
        self.assertEqual(sorted(m.message["Message-ID"] for m in mails), sorted(message_ids))
        for mail in mails:
            self.assertEqual(mail.message["Subject"], "capabilities")
            self.assertEqual(mail.envelope["rcpt_tos"], ["ops@acme.test"])
            self.assertEqual(mail.envelope["mail_from"], "cron@acme.test")
            self.assertIn("Sent by the capabilities test plugin.", mail.message.get_body(("plain",)).get_content())

    def test_dry_run_captures_the_effects(self):
        s = self.make_site()
        jobs, config = os.path.join(s.root, "jobs.d"), os.path.join(s.root, "cronhost.yaml")
        # A file written in a dry run is captured, not written, so the read back that follows
        # finds nothing to read: first every capability but files, then files alone.
        out = s.dry_run("caps_process", "--param", "folder=null")
        self.assertEqual(out["status"], "succeeded", out)
        self.assertEqual(out["result"]["runs"], 1)
        self.assertEqual(out["result"]["http"], {"status": 200})
        self.assertEqual(out["result"]["db"], {"inserted": 1, "rows": [{"x": 42}]})  # the run sees its own write
        self.assertIs(out["result"]["mail"]["dry_run"], True, out["result"]["mail"])  # not "sent"
        self.assertNotIn("sent", out["result"]["mail"])
        self.assertEqual([e["kind"] for e in out["effects"]], ["db", "db", "mail"])
        self.assertTrue(all(e["summary"].endswith("(rolled back)") for e in out["effects"][:2]), out["effects"])
        self.assertEqual(out["effects"][2]["summary"], 'to ops@acme.test: "capabilities"')

        folder = self.folders["caps_inline"]
        files = s.dry_run("caps_inline", "--param", "url=null", "--param", "db=null", "--param", "mail_to=null")
        self.assertEqual(files["status"], "failed", files)
        self.assertEqual([(e["kind"], e["summary"]) for e in files["effects"]],
                         [("files", f"write {folder}/out.txt (23 bytes)")])
        self.assertIn("exists only in this dry run", files["error"])

        text = s.cli("dry-run", "caps_inline", "--param", "folder=null", "--jobs", jobs, "--config", config)
        self.assertEqual(text.returncode, 0, text.stdout + text.stderr)
        self.assertIn("(dry run: nothing kept)", text.stdout)
        self.assertIn("--- effects (3, captured, not performed)", text.stdout)
        self.assertIn("          To: ops@acme.test\n          Subject: capabilities\n", text.stdout)

        # Nothing happened: no mail, no file, no table, no state file; the reads were made.
        time.sleep(0.3)
        self.assertEqual(self.smtp.messages(), [])
        for folder in self.folders.values():
            self.assertEqual(os.listdir(folder), [])
        db = sqlite3.connect(os.path.join(s.root, "app.db"))
        self.assertEqual(db.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchall(), [])
        db.close()
        self.assertFalse(os.path.exists(s.state), "a dry run keeps nothing")
        self.assertEqual(len([q for q in self.http.requests() if q["path"] == "/ping"]), 2)


class FeedServer:
    """A loopback HTTP server whose GET answers the JSON in .feed, which tests change."""

    def __init__(self, feed):
        self.feed = feed
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = json.dumps(outer.feed).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ExamplesTest(PluginTestCase):
    """examples/jobs.d/disk-report.yaml and feed-counts.yaml with the example plugins."""

    def make_site(self, config=""):
        s = self.site = PluginSite(config)
        for name in os.listdir(EXAMPLE_PLUGINS):
            if name.endswith(".so"):
                s.add_plugin(os.path.join(EXAMPLE_PLUGINS, name))
        return s

    def copy_example(self, name, as_name=None):
        with open(os.path.join(REPO, "examples", "jobs.d", name + ".yaml")) as f:
            self.site.write(f"jobs.d/{as_name or name}.yaml", f.read())

    def patch(self, job, old, new):
        path = os.path.join(self.site.root, "jobs.d", job + ".yaml")
        with open(path) as f:
            text = f.read()
        self.assertRegex(text, re.compile(old, re.M), f"not found in {job}.yaml")
        patched = re.sub(old, new, text, flags=re.M)
        self.site.write(f"jobs.d/{job}.yaml", patched)

    def test_disk_report_mails_only_over_the_threshold(self):
        smtp_dir = services.tempfile.mkdtemp(prefix="plugin-smtp-")
        self.addCleanup(shutil.rmtree, smtp_dir, True)
        smtp = self.serve(services.SmtpSink(smtp_dir))
        s = self.make_site(f"smtp: {{host: 127.0.0.1, port: {smtp.port}, tls: none, from: 'Cron <cron@acme.test>'}}\n")
        big = os.path.join(s.root, "uploads")
        small = os.path.join(s.root, "small")
        os.makedirs(os.path.join(big, "a", "b"))
        os.makedirs(small)
        for path, mib in ((os.path.join(big, "one.bin"), 2), (os.path.join(big, "a", "b", "two.bin"), 1)):
            with open(path, "wb") as f:
                f.write(b"\0" * (mib << 20))
        with open(os.path.join(small, "note.txt"), "w") as f:
            f.write("tiny\n")
        at = soon(3)
        for job, folder in (("disk-report", big), ("disk-report-small", small)):
            self.copy_example("disk-report", job)
            self.patch(job, r"^  cron: .*$", f"  at: '{at}'")
            self.patch(job, r"^  timezone: .*\n", "")
            self.patch(job, r"^  folder: .*$", f"  folder: {folder}")
            self.patch(job, r"^  threshold_mb: .*$", "  threshold_mb: 2")
            self.patch(job, r"^  mail_to: .*$", "  mail_to: ops@acme.test")
            self.patch(job, r"^  files: .*$", f"  files: [{folder}]")
            self.patch(job, r"^  mail: .*$", "  mail: ['*@acme.test']")
        s.start()
        [over] = s.wait_run("disk-report", timeout=20)
        [within] = s.wait_run("disk-report-small", timeout=20)
        [mail] = smtp.wait_messages(1)
        time.sleep(0.5)  # a second mail would have arrived by now
        self.stop_host()

        self.assertEqual(over["status"], "succeeded", over)
        self.assertEqual(json.loads(over["result"]), {"folder": big, "bytes": 3 << 20, "files": 2, "over": True})
        self.assertEqual(within["status"], "succeeded", within)
        self.assertEqual(json.loads(within["result"]), {"folder": small, "bytes": 5, "files": 1, "over": False})
        self.assertEqual(len(smtp.messages()), 1)
        self.assertEqual(mail.message["Subject"], f"Disk usage of {big}: 3 MiB")
        self.assertEqual(mail.envelope["rcpt_tos"], ["ops@acme.test"])
        self.assertIn("above the threshold of 2 MiB", mail.message.get_body(("plain",)).get_content())

    def test_json_feed_counts_and_reports_changes(self):
        feed = self.serve(FeedServer([{"name": "db", "status": "ok"}, {"name": "web", "status": "ok"},
                                      {"name": "queue", "status": "failing"}]))
        s = self.make_site()
        self.copy_example("feed-counts")
        url = feed.url + "/checks.json"
        self.patch("feed-counts", r"^  every: .*$", "  every: 1s")
        self.patch("feed-counts", r"^  url: .*$", f"  url: {url}")
        self.patch("feed-counts", r"^  http: .*$", f"  http: ['{url}']")
        s.start()
        [first] = s.wait_run("feed-counts", timeout=15)
        self.assertEqual(first["status"], "succeeded", first)
        self.assertEqual(json.loads(first["result"]), {"total": 3, "by": {"failing": 1, "ok": 2}, "changed": []})
        self.assertIn("these are the baseline", first["output"])

        feed.feed = {"items": [{"name": "db", "status": "ok"}, {"name": "web", "status": "failing"},
                               {"name": "queue", "status": "failing"}, {"name": "cache"}]}
        changed_at = now_ms()
        wait_for(lambda: [r for r in s.finished("feed-counts") if r["started_at"] > changed_at], timeout=10,
                 what="a run after the feed changed")
        self.stop_host()
        runs = s.finished("feed-counts")
        self.assertEqual([r["status"] for r in runs], ["succeeded"] * len(runs))
        results = [json.loads(r["result"]) for r in runs]
        # The first run that saw the new feed (one in flight at the change may have been it).
        first_new = next(i for i, r in enumerate(results) if r["total"] == 4)
        before = results[:first_new]
        self.assertTrue(all(r["total"] == 3 and r["changed"] == [] for r in before), before)  # same feed: no news
        self.assertTrue(all(r["changed"] == [] for r in results[first_new + 1:]), results)
        after = results[first_new]
        self.assertEqual(after["total"], 4)
        self.assertEqual(after["by"], {"(missing)": 1, "failing": 2, "ok": 1})
        self.assertEqual(after["changed"], [{"value": "(missing)", "before": 0, "after": 1},
                                            {"value": "failing", "before": 1, "after": 2},
                                            {"value": "ok", "before": 2, "after": 1}])


if __name__ == "__main__":
    unittest.main()
