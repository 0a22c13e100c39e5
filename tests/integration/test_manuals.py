"""Man pages, shell completions and the LuaLS meta file, as the build makes them.

CRONHOST_BIN is the built cronhost; CRONHOST_BUILD the build folder holding man/ and
completions/ (cmake/manuals.cmake). The pages are checked against independent sources: the
subcommands and options `cronhost --help` prints, the schemas' keys, and the names a Lua job
finds in its own globals (in the host and in an isolated runner).
"""
import json
import os
import pty
import re
import select
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2]
BIN = os.environ.get("CRONHOST_BIN", str(SOURCE / "build" / "cronhost"))
BUILD = Path(os.environ.get("CRONHOST_BUILD", Path(BIN).parent))
MAN = BUILD / "man"
COMPLETIONS = BUILD / "completions"
META = SOURCE / "schemas" / "lua" / "cronhost.lua"
PAGES = ["cronhost.1", "cronhost.yaml.5", "cronhost-jobs.5", "cronhost-lua.7"]

# Lua 5.4's own globals: what a walk of _G finds besides the host's API (print and require
# are the host's own, so they are compared like the rest).
LUA_STANDARD = {"assert", "collectgarbage", "dofile", "error", "getmetatable", "ipairs", "load", "loadfile",
                "next", "pairs", "pcall", "rawequal", "rawget", "rawlen", "rawset", "select", "setmetatable",
                "tonumber", "tostring", "type", "xpcall", "warn", "_G", "_VERSION", "coroutine", "debug", "io",
                "math", "os", "package", "string", "table", "utf8"}

WALK_SCRIPT = """
local names = {}
for name, value in pairs(_G) do
  if type(value) == "function" then names[#names + 1] = name
  elseif type(value) == "table" then
    names[#names + 1] = name
    for key, member in pairs(value) do
      if type(member) == "function" then names[#names + 1] = name .. "." .. key end
    end
  end
end
table.sort(names)
return {names = names}
"""


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=30, **kwargs)


def help_text(*words):
    return run(BIN, *words, "--help").stdout


def subcommands(text):
    """The names under "SUBCOMMANDS:" in CLI11's help."""
    names, inside = [], False
    for line in text.splitlines():
        if line.strip().upper() == "SUBCOMMANDS:":
            inside = True
        elif inside and line.startswith("  ") and line.strip():
            names.append(line.split()[0])
        elif inside and line.strip():
            inside = False
    return names


def meta_declarations():
    """(globals, functions "mod.fn" and globals, fields "mod.field", methods "Class:fn")."""
    text = META.read_text()
    globals_ = set(re.findall(r"^(\w+) = \{\}$", text, re.M))
    functions = set(re.findall(r"^function ([\w.]+)\(", text, re.M))
    methods = set(re.findall(r"^function (\w+:\w+)\(", text, re.M))
    fields = set()
    # A global's fields are those of the class (---@class) or type (---@type) just above it.
    classes = {}
    for block in re.split(r"\n(?=---@class )", text):
        head = re.match(r"---@class ([\w.]+)", block)
        if head:
            classes[head.group(1)] = re.findall(r"^---@field (\w+)", block, re.M)
    for match in re.finditer(r"^---@(?:type|class) ([\w.]+)[^\n]*\n(?:---[^\n]*\n)*(\w+) = \{\}$", text, re.M):
        fields |= {f"{match.group(2)}.{f}" for f in classes.get(match.group(1), [])}
    return globals_, functions, fields, methods


def write_two_jobs(site):
    """jobs.d/ with the jobs alpha and beta-job (running x.lua) in `site`, for the completions."""
    (site / "jobs.d").mkdir()
    (site / "x.lua").write_text("return 1\n")
    for name in ("alpha", "beta-job"):
        (site / "jobs.d" / f"{name}.yaml").write_text("schedule: {every: 1h}\nrun: {lua: x.lua}\n")


class ManPagesTest(unittest.TestCase):
    def page(self, name):
        return (MAN / name).read_text()

    def test_pages_render_without_warnings(self):
        for name in PAGES:
            with self.subTest(page=name):
                result = run("groff", "-man", "-Tutf8", "-ww", "-z", str(MAN / name))
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stderr, "", f"{name}: groff warns")
                if shutil.which("man"):
                    result = run("man", "--warnings", "-l", str(MAN / name), env={**os.environ, "MANPAGER": "cat",
                                                                                 "MANWIDTH": "80"})
                    self.assertEqual(result.returncode, 0, result.stderr)
                    self.assertEqual(result.stderr, "", f"{name}: man warns")

    def test_every_subcommand_and_option_is_in_cronhost_1(self):
        page = self.page("cronhost.1")
        # The page's sections, one per command path: ".SS "cronhost approvals approve [OPTIONS] ...""
        sections = dict(re.findall(r'^\.\\" command: (.*?)\n(.*?)(?=^\.\\" command: |^\.SH |\Z)', page, re.M | re.S))
        top = subcommands(help_text())
        self.assertGreaterEqual(len(top), 13, "cronhost --help lists the subcommands")
        self.assertNotIn("manual", top)  # hidden
        paths = [[name] for name in top]
        for name in top:
            paths += [[name, sub] for sub in subcommands(help_text(name))]
        for path in paths:
            with self.subTest(command=" ".join(path)):
                key = " ".join(path)
                self.assertIn(key, sections, f"no section for cronhost {key}")
                options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", help_text(*path))) - {"--help", "--jobs", "--config"}
                for option in options:
                    self.assertIn(option.replace("-", "\\-"), sections[key], f"cronhost {key}: {option} not described")
        for option in ("--jobs", "--config", "--version"):
            self.assertIn(option.replace("-", "\\-"), page.split(".SH COMMANDS")[0])

    def test_every_schema_key_is_in_its_page(self):
        for schema, name in (("config.schema.json", "cronhost.yaml.5"), ("job.schema.json", "cronhost-jobs.5")):
            page = self.page(name)
            properties = json.loads((SOURCE / "schemas" / schema).read_text())["properties"]
            for key, value in properties.items():
                with self.subTest(page=name, key=key):
                    self.assertRegex(page, rf"(?m)^\.SS {re.escape(key)}$")
                    if "description" in value:
                        self.assertIn(value["description"][:40].replace("\\", "\\e"), page)
                    for sub in value.get("properties", {}):
                        self.assertIn(f"\\fB{key}.{sub}\\fR", page)

    def test_jobs_page_carries_the_cron_grammar_and_dst_rules(self):
        page = self.page("cronhost-jobs.5")
        readme = (SOURCE / "README.md").read_text()
        for text in ("@yearly", "Spring forward", "Fall back", "fixed-time", "Pacific/Chatham", "FNV-1a"):
            with self.subTest(text=text):
                self.assertIn(text, readme, "the test's sample is README text")
                self.assertIn(text, page)
        rendered = run("groff", "-man", "-Tutf8", str(MAN / "cronhost-jobs.5")).stdout
        self.assertIn("2026-03-08T03:00:00-04:00", rendered)  # a fenced example, kept verbatim
        self.assertNotIn("```", rendered)


class LuaMetaTest(unittest.TestCase):
    """schemas/lua/cronhost.lua against the API the bindings register."""

    def walk(self, isolation):
        with tempfile.TemporaryDirectory() as site:
            site = Path(site)
            (site / "jobs.d").mkdir()
            (site / "scripts").mkdir()
            (site / "scripts" / "walk.lua").write_text(WALK_SCRIPT)
            (site / "jobs.d" / "walk.yaml").write_text(
                "schedule: {cron: '0 0 1 1 *'}\n"
                f"run: {{lua: scripts/walk.lua, isolation: {isolation}}}\n")
            result = run(BIN, "--jobs", str(site / "jobs.d"), "dry-run", "walk", "--json", "--offline", cwd=site)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            names = json.loads(result.stdout)["result"]["names"]
            return {name for name in names if name.split(".")[0] not in LUA_STANDARD}

    def declared(self):
        globals_, functions, _, _ = meta_declarations()
        return globals_ | functions

    def test_meta_file_names_exactly_the_registered_api(self):
        registered = self.walk("inline")
        self.assertIn("http.get", registered)  # the walk saw the host's API
        declared = self.declared()
        self.assertEqual(sorted(registered - declared), [], "registered but not in schemas/lua/cronhost.lua")
        self.assertEqual(sorted(declared - registered), [], "in schemas/lua/cronhost.lua but not registered")

    def test_isolated_lua_exposes_the_same_api(self):
        self.assertEqual(sorted(self.walk("process") ^ self.walk("inline")), [],
                         "names only one of the in-host sandbox and the isolated runner has")

    def test_connection_methods_match_the_bindings(self):
        _, _, _, methods = meta_declarations()
        declared = {m.split(":")[1] for m in methods if m.startswith("DbConn:")}
        bindings = (SOURCE / "host" / "bindings" / "lua_db.cpp").read_text()
        table = re.search(r"kConnMethods\[\] = \{(.*?)\{nullptr", bindings, re.S).group(1)
        self.assertEqual(declared, set(re.findall(r'\{"(\w+)"', table)))
        client = (SOURCE / "host" / "plugin" / "client.lua").read_text()
        self.assertEqual(declared, set(re.findall(r"^function conn_methods\.(\w+)\(", client, re.M)))

    def test_lua_page_lists_every_function(self):
        page = (MAN / "cronhost-lua.7").read_text()
        for name in sorted(self.declared()):
            with self.subTest(name=name):
                if name in meta_declarations()[0]:
                    found = re.search(rf"(?m)^\.SS {re.escape(name)}$|\\fB{re.escape(name)}\\fR\(", page)
                else:
                    found = f"\\fB{name}\\fR(" in page
                self.assertTrue(found, f"{name} is not in cronhost-lua.7")
        for method in meta_declarations()[3]:
            self.assertTrue(":" + method.split(":")[1] + "\\fR(" in page, f"{method} is not in cronhost-lua.7")

    def test_bundled_scripts_call_only_declared_functions(self):
        globals_, functions, fields, _ = meta_declarations()
        known = functions | fields
        used = set()
        for script in sorted((SOURCE / "scripts").rglob("*.lua")):
            code = re.sub(r"--[^\n]*", "", script.read_text())
            code = re.sub(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'', '""', code)
            for module, member in re.findall(r"(?<![\w.:])(\w+)\.(\w+)", code):
                if module in globals_:
                    used.add(f"{module}.{member}")
                    with self.subTest(script=script.name, call=f"{module}.{member}"):
                        self.assertIn(f"{module}.{member}", known, f"{script.name} uses an undeclared name")
        self.assertIn("log.info", used)  # the scan found the scripts' calls


class BashCompletionTest(unittest.TestCase):
    def complete(self, words, cwd):
        """COMPREPLY for the line `words` (the last word is the one completed)."""
        script = (f"source {COMPLETIONS / 'cronhost'}\n"
                  f"COMP_WORDS=({' '.join(json.dumps(w) for w in words)})\n"
                  f"COMP_CWORD={len(words) - 1}\n"
                  "_cronhost\n"
                  "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
        env = {**os.environ, "PATH": f"{Path(BIN).parent}:{os.environ['PATH']}"}
        result = run("bash", "--norc", "-c", script, cwd=cwd, env=env)
        self.assertEqual(result.stderr, "")
        return [line for line in result.stdout.splitlines() if line]

    def test_subcommands_flags_jobs_zones_and_files(self):
        with tempfile.TemporaryDirectory() as site:
            site = Path(site)
            write_two_jobs(site)
            # A broken file is left out, and says nothing on stderr (the completion's rule).
            (site / "jobs.d" / "broken.yaml").write_text("schedule: {every: 1h}\nrun: {lua: missing.lua}\n")
            (site / "state.db").write_text("")
            jobs = str(site / "jobs.d")
            cases = [
                (["cronhost", "li"], ["list"]),
                (["cronhost", "list", "--n"], ["--names"]),
                (["cronhost", "approvals", "ap"], ["approve"]),
                (["cronhost", "--jobs", jobs, "dry-run", ""], ["alpha", "beta-job"]),
                (["cronhost", "trigger", "--jobs", jobs, "b"], ["beta-job"]),
                (["cronhost", "next", "--expr", "0 * * * *", "--tz", "Europe/Lon"], ["Europe/London"]),
                (["cronhost", "list", "--state", "sta"], ["state.db"]),
            ]
            for words, expected in cases:
                with self.subTest(line=" ".join(words)):
                    self.assertEqual(self.complete(words, site), expected)
            self.assertGreater(len(self.complete(["cronhost", "next", "--tz", ""], site)), 300)


class ZshCompletionTest(unittest.TestCase):
    def setUp(self):
        if not shutil.which("zsh"):
            self.fail("zsh is not installed (Debian zsh, in the Makefile's DEBS)")

    def test_loads_with_compinit_from_fpath_and_by_source(self):
        with tempfile.TemporaryDirectory() as home:
            functions = Path(home) / "functions"
            functions.mkdir()
            shutil.copy(COMPLETIONS / "_cronhost", functions / "_cronhost")
            script = (f"fpath=({functions} $fpath)\n"
                      f"autoload -U compinit && compinit -u -d {home}/zcompdump\n"
                      "print -r -- fpath:$_comps[cronhost]\n"
                      f"unset '_comps[cronhost]'; source {COMPLETIONS / '_cronhost'}\n"
                      "print -r -- sourced:$_comps[cronhost]\n"
                      "whence -w _cronhost_scan\n")
            result = run("zsh", "-f", "-c", script, env={**os.environ, "HOME": home})
            self.assertEqual(result.stderr, "")
            self.assertEqual(result.stdout.split(), ["fpath:_cronhost", "sourced:_cronhost", "_cronhost_scan:", "function"])


    def test_tab_in_an_interactive_zsh_completes(self):
        """Keys typed into a real interactive zsh on a pty: each line is typed, <Tab> pressed,
        then `print -r -- GOT:` is put before it (Ctrl-A) and run, so the output shows the
        line as the completion left it."""
        with tempfile.TemporaryDirectory() as home:
            site = Path(home)
            write_two_jobs(site)
            jobs = site / "jobs.d"
            cases = {
                "cronhost li": "cronhost list",
                "cronhost list --na": "cronhost list --names",
                "cronhost approvals appr": "cronhost approvals approve",
                f"cronhost --jobs {jobs} dry-run be": f"cronhost --jobs {jobs} dry-run beta-job",
                "cronhost next --expr x --tz Europe/Lond": "cronhost next --expr x --tz Europe/London",
            }
            typed = [f"{line}\t\x01print -r -- GOT:\n" for line in cases]
            output = self.interactive_zsh(home, typed)
            got = [line.strip() for line in re.findall(r"\nGOT:([^\r\n]*)", output)]
            self.assertEqual(got, list(cases.values()), output[-2000:])

    def interactive_zsh(self, home, typed):
        master, slave = pty.openpty()
        env = {**os.environ, "HOME": home, "TERM": "dumb", "PATH": f"{Path(BIN).parent}:{os.environ['PATH']}"}
        shell = subprocess.Popen(["zsh", "-f", "-i"], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=home,
                                 start_new_session=True)
        os.close(slave)
        try:
            os.write(master, f"PS1=''; bindkey -e; fpath=({COMPLETIONS} $fpath); "
                             f"autoload -U compinit; compinit -u -d {home}/zcompdump\n".encode())
            for line in typed:
                os.write(master, line.encode())
            os.write(master, b"exit\n")
            output, deadline = b"", time.monotonic() + 30
            while time.monotonic() < deadline:
                if select.select([master], [], [], 0.5)[0]:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # the shell exited: EIO on Linux
                        break
                    if not chunk:
                        break
                    output += chunk
                elif shell.poll() is not None:
                    break
            return output.decode(errors="replace")
        finally:
            os.close(master)
            if shell.poll() is None:
                shell.kill()
            shell.wait(5)


if __name__ == "__main__":
    unittest.main()
