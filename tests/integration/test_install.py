"""`cmake --install` into a temporary prefix, then what an operator and a plugin author do
with the installed tree: run the installed cronhost (it finds its runner in libexec), and build
plugins out of tree against the installed files, with find_package(cronhost) and with
pkg-config, then load them with the installed cronhost (`plugin check` and a dry run).

The build folder is the one holding CRONHOST_BIN; it must have cronhost and
cronhost-plugin-runner built (cmake --install installs, it does not build)."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from daemon_site import BIN

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.dirname(os.path.abspath(BIN))
TIMEOUT = 60

# A plugin as an author would write it: one exported entry point, and a helper that hidden
# visibility and the version script must keep out of the dynamic symbol table.
PLUGIN_C = r"""
#include <string.h>
#include <cronhost/plugin.h>

#ifndef BUILT_WITH
#error "BUILT_WITH must name the build"
#endif

int helper_not_exported(void) { return 7; }

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  static const char line[] = "hello from " BUILT_WITH;
  static const char result[] = "{\"built_with\": \"" BUILT_WITH "\", \"helper\": 7}";
  if (helper_not_exported() != 7) return CRONHOST_EFAILED;
  host->log(run, CRONHOST_LOG_INFO, line, strlen(line));
  return host->set_result(run, result, strlen(result));
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "hello", "2.0.1", NULL, run, NULL, "Says where it was built",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
"""

PLUGIN_CMAKE = """cmake_minimum_required(VERSION 3.25)
project(hello LANGUAGES C)
find_package(cronhost 0.1 REQUIRED)
cronhost_add_plugin(hello hello.c OUTPUT_DIR ${CMAKE_BINARY_DIR}/out)
target_compile_definitions(hello PRIVATE BUILT_WITH="cmake")
"""


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(cronhost VERSION ([0-9.]+)", f.read()).group(1)


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cronhost-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        done = subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix], capture_output=True, text=True,
                              timeout=TIMEOUT)
        if done.returncode != 0:
            shutil.rmtree(cls.tmp, True)
            raise AssertionError("cmake --install failed:\n" + done.stdout + done.stderr)
        cls.bin = os.path.join(cls.prefix, "bin", "cronhost")
        # What an author's build sees: the installed prefix, and nothing from the build folder.
        cls.env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(cls.prefix, "lib", "pkgconfig"),
                       CMAKE_PREFIX_PATH=cls.prefix)
        cls.env.pop("CRONHOST_PLUGIN_RUNNER", None)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def run_ok(self, args, cwd=None, env=None):
        done = subprocess.run(args, cwd=cwd, env=env or self.env, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(done.returncode, 0, f"{' '.join(args)}:\n{done.stdout}{done.stderr}")
        return done.stdout

    def installed(self, *parts):
        return os.path.join(self.prefix, *parts)

    def plugin_check(self, plugin):
        """`cronhost plugin check` with the installed binary: its first line."""
        return self.run_ok([self.bin, "plugin", "check", plugin]).splitlines()[0]

    def dry_run(self, plugin, params=None, allow=None, config=""):
        """A dry run of a job that runs `plugin`, from a site of its own; the --json outcome."""
        site = tempfile.mkdtemp(prefix="site-", dir=self.tmp)
        os.makedirs(os.path.join(site, "jobs.d"))
        os.makedirs(os.path.join(site, "plugins"))
        shutil.copy(plugin, os.path.join(site, "plugins"))
        job = f"schedule: {{every: 1h}}\nrun: {{plugin: plugins/{os.path.basename(plugin)}}}\n"
        if params:
            job += f"params: {json.dumps(params)}\n"
        if allow:
            job += f"allow: {json.dumps(allow)}\n"
        with open(os.path.join(site, "jobs.d", "job.yaml"), "w") as f:
            f.write(job)
        with open(os.path.join(site, "cronhost.yaml"), "w") as f:
            f.write(f"state: {os.path.join(site, 'state.db')}\n{config}")
        return json.loads(self.run_ok([self.bin, "dry-run", "job", "--json", "--jobs", "jobs.d"], cwd=site))

    def exported(self, plugin):
        out = self.run_ok(["nm", "-D", "--defined-only", plugin])
        return sorted(line.split()[-1] for line in out.splitlines() if line.strip())

    def test_the_tree_has_the_documented_layout(self):
        for path in ("bin/cronhost", "libexec/cronhost/cronhost", "libexec/cronhost/cronhost-plugin-runner"):
            self.assertTrue(os.access(self.installed(path), os.X_OK), f"{path} is not an installed executable")
        for path in ("include/cronhost/plugin.h", "include/cronhost/plugin.hpp",
                     "lib/cmake/cronhost/cronhostConfig.cmake", "lib/cmake/cronhost/cronhostConfigVersion.cmake",
                     "lib/cmake/cronhost/cronhostPlugin.cmake", "lib/cmake/cronhost/cronhostTargets.cmake",
                     "lib/pkgconfig/cronhost-plugin.pc", "share/cronhost/cronhost_plugin_exports.map",
                     "share/cronhost/schemas/job.schema.json", "share/cronhost/schemas/config.schema.json",
                     "share/cronhost/examples/jobs.d/disk-report.yaml", "share/cronhost/examples/scripts/report.lua",
                     "share/cronhost/examples/plugins/disk_report/disk_report.c",
                     "share/cronhost/examples/plugins/disk_report/CMakeLists.txt",
                     "share/cronhost/examples/plugins/json_feed/json_feed.cpp",
                     "share/cronhost/examples/bundled/jobs.d/heartbeat.yaml",
                     "share/cronhost/examples/bundled/scripts/heartbeat.lua",
                     "share/cronhost/examples/bundled/cronhost.yaml"):
            self.assertTrue(os.path.isfile(self.installed(path)), f"{path} was not installed")
        # The host binary and its runner live in libexec only, and the migrations are compiled in,
        # not installed.
        self.assertEqual(sorted(os.listdir(self.installed("bin"))), ["cronhost"])
        installed = [os.path.join(d, f) for d, _, files in os.walk(self.prefix) for f in files]
        self.assertEqual([p for p in installed if p.endswith(".sql")], [])
        # The bundled jobs validate with the installed binary, from the installed folder.
        out = self.run_ok([self.bin, "validate", "jobs.d"], cwd=self.installed("share/cronhost/examples/bundled"))
        self.assertRegex(out, r"\d+ jobs OK")

    def test_installed_binary_prints_its_version_and_finds_the_runner_in_libexec(self):
        self.assertIn(project_version(), self.run_ok([self.bin, "--version"]))
        # The test plugin from the build: only the installed runner can have loaded it.
        self.assertEqual(self.plugin_check(os.path.join(BUILD, "test-plugins", "libempty.so")),
                         "empty 1.0.0 (ABI 1.3)")

    def test_the_installed_command_runs_the_host_binary_in_the_same_process(self):
        # bin/cronhost execs libexec/cronhost/cronhost: the process systemd and signals know
        # (the pid the caller started) is the host, with the caller's arguments.
        site = tempfile.mkdtemp(prefix="site-", dir=self.tmp)
        os.makedirs(os.path.join(site, "jobs.d"))
        with open(os.path.join(site, "cronhost.yaml"), "w") as f:
            f.write(f"state: {os.path.join(site, 'state.db')}\nserver: {{enabled: false}}\n")
        log_path = os.path.join(site, "host.log")
        with open(log_path, "wb") as log:
            daemon = subprocess.Popen([self.bin, "run", "--config", "cronhost.yaml"], cwd=site, env=self.env,
                                      stdout=log, stderr=log)
        try:
            # Started: from then on SIGTERM is the host's to handle (before, it ends any process).
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline and daemon.poll() is None:
                with open(log_path, errors="replace") as f:
                    if "cronhost started" in f.read():
                        break
                time.sleep(0.05)
            with open(log_path, errors="replace") as f:
                self.assertIn("cronhost started", f.read())
            self.assertEqual(os.readlink(f"/proc/{daemon.pid}/exe"), self.installed("libexec", "cronhost", "cronhost"))
            with open(f"/proc/{daemon.pid}/cmdline") as f:
                self.assertEqual(f.read().split("\0")[:4], [self.bin, "run", "--config", "cronhost.yaml"])
            daemon.terminate()
            self.assertEqual(daemon.wait(timeout=TIMEOUT), 0)  # the host's orderly stop
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()

    def test_without_a_runner_the_error_names_the_place_looked(self):
        lone = os.path.join(self.tmp, "lone", "libexec")
        os.makedirs(lone, exist_ok=True)
        shutil.copy(self.installed("libexec", "cronhost", "cronhost"), lone)
        done = subprocess.run([os.path.join(lone, "cronhost"), "plugin", "check",
                               os.path.join(BUILD, "test-plugins", "libempty.so")],
                              env=self.env, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn(f"cronhost-plugin-runner not found: looked for {lone}/cronhost-plugin-runner (set "
                      "CRONHOST_PLUGIN_RUNNER to its path)", done.stderr)

    def test_without_a_runner_no_program_of_the_working_folder_is_started_in_its_place(self):
        # A site whose folder holds a program named like the runner: a binary with no runner
        # must fail the isolated run, not start that program (posix_spawn resolves a bare
        # name against the working folder).
        lone = os.path.join(self.tmp, "lone2", "libexec")
        os.makedirs(lone, exist_ok=True)
        shutil.copy(self.installed("libexec", "cronhost", "cronhost"), lone)
        site = tempfile.mkdtemp(prefix="site-", dir=self.tmp)
        os.makedirs(os.path.join(site, "jobs.d"))
        os.makedirs(os.path.join(site, "scripts"))
        marker = os.path.join(site, "planted-runner-ran")
        planted = os.path.join(site, "cronhost-plugin-runner")
        with open(planted, "w") as f:
            f.write(f"#!/bin/sh\ntouch {marker}\n")
        os.chmod(planted, 0o755)
        with open(os.path.join(site, "scripts", "job.lua"), "w") as f:
            f.write("return 1\n")
        with open(os.path.join(site, "jobs.d", "job.yaml"), "w") as f:
            f.write("schedule: {every: 1h}\nrun: {lua: scripts/job.lua, isolation: process}\n")
        with open(os.path.join(site, "cronhost.yaml"), "w") as f:
            f.write(f"state: {os.path.join(site, 'state.db')}\n")
        done = subprocess.run([os.path.join(lone, "cronhost"), "dry-run", "job", "--json", "--jobs", "jobs.d"],
                              cwd=site, env=self.env, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertIn("cronhost-plugin-runner not found", done.stderr)
        self.assertFalse(os.path.exists(marker), "the working folder's cronhost-plugin-runner was started")
        self.assertNotEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_plugin_built_with_find_package_loads_in_the_installed_cronhost(self):
        src = os.path.join(self.tmp, "cmake-src")
        build = os.path.join(self.tmp, "cmake-build")
        os.makedirs(src)
        with open(os.path.join(src, "hello.c"), "w") as f:
            f.write(PLUGIN_C)
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write(PLUGIN_CMAKE)
        self.run_ok(["cmake", "-S", src, "-B", build, "-G", "Ninja"])
        self.run_ok(["cmake", "--build", build])
        plugin = os.path.join(build, "out", "libhello.so")
        self.assertEqual(self.exported(plugin), ["cronhost_plugin_v1"])
        self.assertEqual(self.plugin_check(plugin), "hello 2.0.1 (ABI 1.3)")
        outcome = self.dry_run(plugin)
        self.assertEqual(outcome["status"], "succeeded", outcome)
        self.assertEqual(outcome["result"], {"built_with": "cmake", "helper": 7})
        self.assertIn("hello from cmake", outcome["output"])

    def test_plugin_built_with_pkg_config_loads_in_the_installed_cronhost(self):
        def pc(*args):
            return self.run_ok(["pkg-config", *args, "cronhost-plugin"]).split()

        work = os.path.join(self.tmp, "cc")
        os.makedirs(work)
        with open(os.path.join(work, "hello.c"), "w") as f:
            f.write(PLUGIN_C)
        self.assertEqual(pc("--cflags"), ["-I" + self.installed("include")])
        self.assertEqual(pc("--variable=exports_map"), [self.installed("share/cronhost/cronhost_plugin_exports.map")])
        plugin = os.path.join(work, "libhello.so")
        self.run_ok(["cc", "-std=c99", "-Wall", "-Werror", *pc("--cflags"), *pc("--variable=plugin_cflags"),
                     '-DBUILT_WITH="pkg-config"', "-o", plugin, "hello.c", *pc("--variable=plugin_ldflags")], cwd=work)
        self.assertEqual(self.exported(plugin), ["cronhost_plugin_v1"])
        self.assertEqual(self.plugin_check(plugin), "hello 2.0.1 (ABI 1.3)")
        outcome = self.dry_run(plugin)
        self.assertEqual(outcome["status"], "succeeded", outcome)
        self.assertEqual(outcome["result"], {"built_with": "pkg-config", "helper": 7})

    def test_installed_disk_report_example_builds_on_its_own_and_runs(self):
        build = os.path.join(self.tmp, "disk-report-build")
        self.run_ok(["cmake", "-S", self.installed("share/cronhost/examples/plugins/disk_report"), "-B", build,
                     "-G", "Ninja"])
        self.run_ok(["cmake", "--build", build])
        plugin = os.path.join(build, "plugins", "libdisk_report.so")
        self.assertEqual(self.plugin_check(plugin), "disk_report 1.0.0 (ABI 1.3)")
        folder = os.path.join(self.tmp, "uploads")
        os.makedirs(os.path.join(folder, "deep"))
        with open(os.path.join(folder, "deep", "a.bin"), "wb") as f:
            f.write(b"\0" * 3000)
        outcome = self.dry_run(plugin, params={"folder": folder, "threshold_mb": 0, "mail_to": "ops@acme.test"},
                               allow={"files": [folder], "mail": ["ops@acme.test"]},
                               # A dry run captures the mail: nothing listens on this port.
                               config="smtp: {host: 127.0.0.1, port: 9, tls: none, from: cron@acme.test}\n")
        self.assertEqual(outcome["status"], "succeeded", outcome)
        self.assertEqual(outcome["result"], {"folder": folder, "bytes": 3000, "files": 1, "over": True})
        # Over the threshold: the warning mail is captured, not sent.
        self.assertEqual([e["kind"] for e in outcome["effects"]], ["mail"], outcome)
        self.assertIn(f"Disk usage of {folder}", json.dumps(outcome["effects"]))


if __name__ == "__main__":
    unittest.main()
