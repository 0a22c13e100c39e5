"""The storage API (storage.put/get/list/delete/prune) through the real daemon against real
object stores: s3rver (S3) and Azurite (Azure Blob, which checks Shared Key), from npm
(tests/storage, `make storage-deps`). s3rver checks no signature, so the SigV4 header cronhost
sends is checked against an independent implementation (tests/support/storage_signing.py)
on a capture server; Azure's Shared Key the same way. Faults come from a loopback proxy that
cuts or throttles the connection. A native plugin reaches the same stores through the C vtable
(ABI 1.3 host->storage), isolated and inline."""
import hashlib
import json
import os
import pwd
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import unittest

from api_site import ApiSite, SiteTestCase, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import dbserver  # noqa: E402
import storage_servers  # noqa: E402
import storage_signing  # noqa: E402
from capture_server import CaptureServer  # noqa: E402
from test_plugins import PluginSite, built  # noqa: E402


def soon(seconds=1):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def flow(value):
    return json.dumps(value)  # JSON is YAML flow style


class FaultProxy:
    """Forwards 127.0.0.1:port to `target_port`; after `cut_after` bytes from the client it
    closes both sides (the store goes away mid-upload); `rate` bytes/s throttles uploads."""

    def __init__(self, target_port, cut_after=None, rate=None):
        self.target_port, self.cut_after, self.rate = target_port, cut_after, rate
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.forwarded = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src, dst, upload):
        try:
            while True:
                data = src.recv(16384 if not self.rate else 4096)
                if not data:
                    break
                if upload:
                    self.forwarded += len(data)
                    if self.cut_after is not None and self.forwarded > self.cut_after:
                        break
                    if self.rate:
                        time.sleep(len(data) / self.rate)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.closed = True
        self.listener.close()


class StorageCase:
    """The tests every store kind passes; subclasses start the store (start_store) and say how
    to read it back independently of cronhost (read, keys)."""

    def setUp(self):
        super().setUp()
        self.store = self.start_store()

    def tearDown(self):
        super().tearDown()
        self.store.stop()

    def run_job(self, script, fragment=None, env=None, timeout="60s", isolation=None, allow=None, before_start=None,
                config=""):
        """Runs `script` (its __DATA__ replaced by the allowed folder) once in the daemon against
        the store; returns the finished run, its result parsed, the host's log beside it."""
        default_fragment, default_env = self.store.host_config()
        fragment = fragment or default_fragment
        site = self.site = ApiSite("storage:\n  backups: " + flow(fragment) + "\n" + config)
        self.data = os.path.join(site.root, "data")
        os.makedirs(self.data)
        runner = "{lua: scripts/s.lua" + (f", isolation: {isolation}" if isolation else "") + "}"
        allow = allow if allow is not None else f"  storage: [backups]\n  files: [{self.data}]\n"
        site.job("s", f"schedule: {{at: '{soon(2)}'}}\nrun: {runner}\ntimeout: {timeout}\nallow:\n{allow}",
                 script.replace("__DATA__", self.data))
        if before_start:
            before_start()
        site.start(env=env if env is not None else default_env)
        [run] = site.wait_run("s", timeout=120)
        site.stop()
        run = dict(run)
        run["result"] = json.loads(run["result"]) if run.get("result") else None
        run["log"] = site.log_text()
        return run

    def write_file(self, name, size, seed=1):
        """A file of `size` bytes in the allowed folder (made in before_start); its bytes."""
        path = os.path.join(self.data, name)
        block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
        out = bytearray()
        for i in range(size // len(block) + 1):
            out += block[:-8] + i.to_bytes(8, "big")
        data = bytes(out[:size])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def assertSucceeded(self, run):
        self.assertEqual(run["status"], "succeeded", f"{run.get('error')}\n{run['log'][-3000:]}")

    def test_put_get_list_delete_prune_round_trip(self):
        run = self.run_job("""
local d = "__DATA__"
files.write(d .. "/report.txt", "hello world\\n")
local a = assert(storage.put("backups", "app/report.txt", {path = d .. "/report.txt"},
                             {content_type = "text/plain", metadata = {engine = "sqlite"}}))
local b = assert(storage.put("backups", "app/nested/ü note+1.txt", {content = "from content"}))
assert(storage.put("backups", "other/x.txt", {content = "x"}))
local listed = assert(storage.list("backups", "app/"))
local got = assert(storage.get("backups", "app/nested/ü note+1.txt", {path = d .. "/copy/note.txt"}))
local text = files.read(d .. "/copy/note.txt")
local missing, err = storage.get("backups", "app/none.txt", {path = d .. "/none.txt"})
local leftover = files.list(d, "*none*")
assert(storage.delete("backups", "app/report.txt"))
assert(storage.delete("backups", "app/report.txt"))  -- gone already: still true
local after = assert(storage.list("backups", "app/"))
local young = assert(storage.prune("backups", "other/", {older_than = 3600}))
local pruned = assert(storage.prune("backups", "", {keep = 1}))
local keys = {}
for _, o in ipairs(listed) do keys[#keys + 1] = {o.key, o.size, os.time() - o.modified < 600} end
return {a = a, b = b, keys = keys, got = got, text = text, err = err, missing = missing == nil, after = #after,
        leftover = #leftover, young = young, pruned = pruned}
""")
        self.assertSucceeded(run)
        r = run["result"]
        self.assertEqual(r["a"], {"key": "app/report.txt", "bytes": 12, "parts": 1})
        self.assertEqual(r["b"]["bytes"], 12)
        self.assertEqual(r["keys"], [["app/nested/ü note+1.txt", 12, True], ["app/report.txt", 12, True]])
        self.assertEqual(r["got"], {"path": os.path.join(self.data, "copy/note.txt"), "bytes": 12})
        self.assertEqual(r["text"], "from content")
        self.assertTrue(r["missing"])
        self.assertRegex(r["err"], r"^storage: backups: GET app/none.txt: 404")
        self.assertEqual(r["leftover"], 0)  # a failed get leaves no file, not even a temporary one
        self.assertEqual(r["after"], 1)
        self.assertFalse(r["young"])        # younger than an hour: kept (an empty table is {} in JSON)
        self.assertEqual(len(r["pruned"]), 1)  # the newest of the two left is kept
        self.assertEqual(len(self.keys("")), 1)

    def test_multipart_upload_of_a_file_above_the_threshold_is_byte_for_byte(self):
        fragment, env = self.store.host_config()
        fragment = {**fragment, "part_size_mb": 5, "multipart_threshold_mb": 5}
        size = 12 * 1024 * 1024 + 12345
        holder = {}
        run = self.run_job("""
local up = assert(storage.put("backups", "big/file.bin", {path = "__DATA__/big.bin"}))
local got = assert(storage.get("backups", "big/file.bin", {path = "__DATA__/back.bin"}))
return {up = up, got = got}
""", fragment=fragment, env=env, before_start=lambda: holder.setdefault("data", self.write_file("big.bin", size)))
        self.assertSucceeded(run)
        self.assertEqual(run["result"]["up"], {"key": "big/file.bin", "bytes": size, "parts": 3})
        self.assertEqual(run["result"]["got"]["bytes"], size)
        stored = self.read("big/file.bin")
        self.assertEqual(len(stored), size)
        self.assertTrue(stored == holder["data"], "the stored object differs from the file")
        with open(os.path.join(self.data, "back.bin"), "rb") as f:
            self.assertTrue(f.read() == holder["data"], "the downloaded copy differs")

    def test_a_wrong_key_is_refused_with_the_stores_message_and_never_shown(self):
        fragment, env = self.wrong_key_config()
        run = self.run_job("""
local up, err = storage.put("backups", "k.txt", {content = "x"})
local listed, lerr = storage.list("backups", "")
return {up = up == nil, err = err, lerr = lerr}
""", fragment=fragment, env=env)
        self.assertSucceeded(run)
        self.assertTrue(run["result"]["up"])
        self.assertRegex(run["result"]["err"], self.wrong_key_message)
        self.assertRegex(run["result"]["lerr"], r"^storage: backups: ")
        for secret in env.values():
            self.assertNotIn(secret, json.dumps(run["result"]) + run["log"])

    def test_a_store_that_goes_away_mid_upload_reports_nothing_uploaded(self):
        proxy = FaultProxy(self.store.port, cut_after=3 * 1024 * 1024)
        self.addCleanup(proxy.close)
        fragment, env = self.config_through(proxy.port)
        size = 12 * 1024 * 1024
        for multipart in (False, True):
            with self.subTest(multipart=multipart):
                proxy.forwarded = 0
                frag = {**fragment, "part_size_mb": 5, "multipart_threshold_mb": 5} if multipart else fragment
                key = "cut/multi.bin" if multipart else "cut/single.bin"
                run = self.run_job(f"""
local up, err = storage.put("backups", "{key}", {{path = "__DATA__/f.bin"}})
return {{up = up, err = err}}
""", fragment=frag, env=env, before_start=lambda: self.write_file("f.bin", size))
                self.assertSucceeded(run)
                self.assertIsNone(run["result"].get("up"))
                self.assertRegex(run["result"]["err"], f"^storage: backups: PUT {key}")
                if multipart or not self.keeps_cut_objects:
                    self.assertNotIn(key, self.keys("cut/"))
                else:  # s3rver stores what arrived of a PUT cut short (S3 refuses a short body)
                    self.assertLess(len(self.read(key)), size)

    def test_the_deadline_stops_a_slow_transfer(self):
        proxy = FaultProxy(self.store.port, rate=256 * 1024)  # 12 MiB would take 48 s
        self.addCleanup(proxy.close)
        fragment, env = self.config_through(proxy.port)
        # In parts: s3rver keeps what arrived of a single PUT cut short (S3 refuses a short
        # body); a multipart upload that never completes shows nothing on either store.
        fragment = {**fragment, "part_size_mb": 5, "multipart_threshold_mb": 5}
        started = time.monotonic()
        run = self.run_job("""
local up, err = storage.put("backups", "slow/file.bin", {path = "__DATA__/f.bin"})
return {up = up, err = err}
""", fragment=fragment, env=env, timeout="3s", before_start=lambda: self.write_file("f.bin", 12 * 1024 * 1024))
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(run["status"], "timed_out", run)
        self.assertLess(run["duration_ms"], 6000)
        self.assertEqual(self.keys("slow/"), [])

    def test_a_cancelled_run_stops_its_transfer(self):
        proxy = FaultProxy(self.store.port, rate=256 * 1024)
        self.addCleanup(proxy.close)
        fragment, env = self.config_through(proxy.port)
        site = self.site = ApiSite("storage:\n  backups: " + flow(fragment) + "\n")
        data = os.path.join(site.root, "data")
        os.makedirs(data)
        self.data = data
        self.write_file("f.bin", 12 * 1024 * 1024)
        site.job("s", f"schedule: {{at: '{soon(2)}'}}\nrun: {{lua: scripts/s.lua}}\ntimeout: 10m\n"
                      f"allow:\n  storage: [backups]\n  files: [{data}]\n",
                 f'return storage.put("backups", "cancel/f.bin", {{path = "{data}/f.bin"}})\n')
        site.start(env=env)
        wait_for(lambda: proxy.forwarded > 512 * 1024, timeout=30, what="the upload to start")
        stopping = time.monotonic()
        site.stop()  # SIGTERM: runs still going after shutdown_grace (2 s) are cancelled
        self.assertLess(time.monotonic() - stopping, 6)
        [run] = site.runs("s")
        self.assertEqual(run["status"], "interrupted", dict(run))
        self.assertNotIn("cancel/f.bin", self.keys("cancel/") if not self.keeps_cut_objects else [])

    def test_list_and_prune_follow_every_page(self):
        for i in range(1003):  # pages of 1,000
            self.seed(f"many/{i:04d}.txt", b"x")
        self.seed("other/keep.txt", b"y")
        run = self.run_job("""
local listed = assert(storage.list("backups", "many/"))
local deleted = assert(storage.prune("backups", "many/", {keep = 0}))
return {n = #listed, first = listed[1].key, last = listed[#listed].key, deleted = #deleted}
""")
        self.assertSucceeded(run)
        self.assertEqual(run["result"], {"n": 1003, "first": "many/0000.txt", "last": "many/1002.txt", "deleted": 1003})
        self.assertEqual(self.keys(""), ["other/keep.txt"])

    def test_isolated_lua_reaches_storage_through_the_host(self):
        run = self.run_job("""
assert(storage.put("backups", "iso/a.txt", {content = "isolated"}))
local listed = assert(storage.list("backups", "iso/"))
return {n = #listed, key = listed[1].key}
""", isolation="process")
        self.assertSucceeded(run)
        self.assertEqual(run["result"], {"n": 1, "key": "iso/a.txt"})
        self.assertEqual(self.read("iso/a.txt"), b"isolated")

    def test_allowlists_are_enforced(self):
        run = self.run_job("""
local ok, err = pcall(storage.put, "backups", "a.txt", {content = "x"})
return {ok = ok, err = err}
""", allow="  files: [/tmp]\n")
        self.assertSucceeded(run)
        self.assertFalse(run["result"]["ok"])
        self.assertIn("storage: store backups is not allowed for job s (allow.storage)", run["result"]["err"])
        run = self.run_job("""
local a_ok, a_err = pcall(storage.get, "backups", "a.txt", {path = "/etc/cronhost-should-not-exist"})
local b_ok, b_err = pcall(storage.put, "backups", "a.txt", {path = "/etc/passwd"})
local c_ok, c_err = pcall(storage.put, "backups", "../a.txt", {content = "x"})
local d_ok, d_err = pcall(storage.list, "offsite", "")
return {a = a_err, b = b_err, c = c_err, d = d_err, any = a_ok or b_ok or c_ok or d_ok}
""")
        self.assertSucceeded(run)
        r = run["result"]
        self.assertFalse(r["any"])
        self.assertIn("(allow.files)", r["a"])
        self.assertIn("(allow.files)", r["b"])
        self.assertIn("storage.put: the key holds a '..' segment", r["c"])
        self.assertIn("(allow.storage)", r["d"])
        self.assertEqual(self.keys(""), [])

    def test_dry_run_captures_store_key_and_size_and_uploads_nothing(self):
        fragment, env = self.store.host_config()
        site = self.site = ApiSite("storage:\n  backups: " + flow(fragment) + "\n")
        data = os.path.join(site.root, "data")
        os.makedirs(data)
        with open(os.path.join(data, "f.bin"), "wb") as f:
            f.write(b"z" * 1000)
        site.lua_job("s", f"""
assert(storage.put("backups", "dry/f.bin", {{path = "{data}/f.bin"}}))
assert(storage.delete("backups", "dry/old.bin"))
return #assert(storage.list("backups", ""))
""", allow=f"  storage: [backups]\n  files: [{data}]\n")
        for name, value in env.items():
            os.environ[name] = value
            self.addCleanup(os.environ.pop, name, None)
        out = site.dry_run("s")
        self.assertEqual(out["status"], "succeeded", out)
        self.assertEqual([e["summary"] for e in out["effects"]],
                         [f"put backups:dry/f.bin (1000 bytes) from {data}/f.bin", "delete backups:dry/old.bin"])
        self.assertEqual(out["effects"][0]["detail"]["bytes"], 1000)
        self.assertEqual(self.keys(""), [])


class S3StorageTest(StorageCase, SiteTestCase):
    wrong_key_message = r"^storage: backups: PUT k.txt: 403 InvalidAccessKeyId: "
    keeps_cut_objects = True

    def start_store(self):
        return storage_servers.S3Server("backups").start()

    def read(self, key):
        return storage_servers.s3_get(self.store, key)

    def keys(self, prefix):
        return [k for k, _ in storage_servers.s3_list(self.store, prefix)]

    def wrong_key_config(self):
        fragment, env = self.store.host_config()
        env = {**env, **{k: "WRONGKEY" for k in env if "KEY" in k and "SECRET" not in k}}
        return fragment, env

    def config_through(self, port):
        fragment, env = self.store.host_config()
        return {"s3": {**fragment["s3"], "endpoint": f"http://127.0.0.1:{port}"}}, env

    def seed(self, key, data):
        storage_servers.s3_put(self.store, key, data)

    def test_a_store_answering_the_same_page_forever_is_an_error(self):
        page = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Contents><Key>a</Key><Size>1</Size>'
                '<LastModified>2026-12-04T02:00:01.000Z</LastModified></Contents><IsTruncated>true</IsTruncated>'
                '<NextContinuationToken>same</NextContinuationToken></ListBucketResult>').encode()
        capture = CaptureServer(answer=lambda r: (200, {"Content-Type": "application/xml"}, page))
        self.addCleanup(capture.close)
        fragment, env = self.store.host_config()
        run = self.run_job("""
local listed, err = storage.list("backups", "")
return {listed = listed == nil, err = err}
""", fragment={"s3": {**fragment["s3"], "endpoint": capture.endpoint}}, env=env)
        self.assertSucceeded(run)
        self.assertEqual(run["result"], {"listed": True, "err": "storage: backups: list '': the store answered the same page twice"})

    def test_an_md5_the_store_disagrees_with_deletes_the_upload_and_fails_the_download(self):
        wrong = '"' + "0" * 32 + '"'

        def answer(r):
            if r.method == "PUT":
                return 200, {"ETag": wrong}, b""
            if r.method == "GET":
                return 200, {"ETag": wrong, "Content-Type": "application/octet-stream"}, b"corrupted on the way"
            return 204, {}, b""
        capture = CaptureServer(answer=answer)
        self.addCleanup(capture.close)
        fragment, env = self.store.host_config()
        run = self.run_job("""
local up, err = storage.put("backups", "md5/a.txt", {content = "the bytes sent"})
local got, gerr = storage.get("backups", "md5/a.txt", {path = "__DATA__/a.txt"})
return {up = up == nil, err = err, got = got == nil, gerr = gerr, left = #files.list("__DATA__", "*")}
""", fragment={"s3": {**fragment["s3"], "endpoint": capture.endpoint}}, env=env)
        self.assertSucceeded(run)
        r = run["result"]
        self.assertTrue(r["up"] and r["got"])
        self.assertRegex(r["err"], r"^storage: backups: PUT md5/a.txt: the store's MD5 0{32} is not that of the bytes sent "
                                   r"\([0-9a-f]{32}\); the object was deleted$")
        self.assertEqual(r["gerr"], "storage: backups: GET md5/a.txt: the download's MD5 is not the object's " + "0" * 32)
        self.assertEqual(r["left"], 0)
        self.assertEqual([x.method for x in capture.requests], ["PUT", "DELETE", "GET"])

    def test_tls_is_verified(self):
        tls_dir = tempfile.mkdtemp(prefix="storage-tls-")
        self.addCleanup(shutil.rmtree, tls_dir, True)
        ca, cert, key = dbserver._make_tls_files(tls_dir, pwd.getpwuid(os.getuid()))
        capture = CaptureServer()
        self.addCleanup(capture.close)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        capture._httpd.socket = context.wrap_socket(capture._httpd.socket, server_side=True)
        fragment, env = self.store.host_config()
        fragment = {"s3": {**fragment["s3"], "endpoint": f"https://127.0.0.1:{capture.port}"}}
        script = """
local up, err = storage.put("backups", "tls/a.txt", {content = "over tls"})
return {up = up ~= nil, err = err}
"""
        untrusted = self.run_job(script, fragment=fragment, env=env)
        self.assertSucceeded(untrusted)
        self.assertFalse(untrusted["result"]["up"])
        self.assertRegex(untrusted["result"]["err"], r"^storage: backups: PUT tls/a.txt: SSL")
        self.assertEqual(capture.requests, [])
        trusted = self.run_job(script, fragment=fragment, env=env, config=f"http: {{ca_file: {ca}}}\n")
        self.assertSucceeded(trusted)
        self.assertEqual(trusted["result"], {"up": True})
        self.assertEqual([(r.method, r.path) for r in capture.requests], [("PUT", "/backups/tls/a.txt")])

    def test_sigv4_signature_matches_an_independent_implementation(self):
        capture = CaptureServer()
        self.addCleanup(capture.close)
        fragment, env = self.store.host_config()
        fragment = {"s3": {**fragment["s3"], "endpoint": capture.endpoint, "path_style": True},
                    "part_size_mb": 5, "multipart_threshold_mb": 5}
        run = self.run_job("""
assert(storage.put("backups", "sig/a b+c.txt", {content = "signed"}, {metadata = {who = "me"}}))
files.write("__DATA__/big.bin", string.rep("0123456789abcdef", 6 * 65536))   -- 6 MiB: two parts
assert(storage.put("backups", "sig/big.bin", {path = "__DATA__/big.bin"}))
assert(storage.list("backups", "sig/ x+y"))
storage.delete("backups", "sig/a b+c.txt")
return true
""", fragment=fragment, env=env)
        self.assertSucceeded(run)
        secret = env[[k for k in env if "SECRET" in k][0]]
        requests = [(r.method, r.path, r.query.split("&")[0]) for r in capture.requests]
        self.assertEqual(requests, [("PUT", "/backups/sig/a%20b%2Bc.txt", ""), ("POST", "/backups/sig/big.bin", "uploads="),
                                    ("PUT", "/backups/sig/big.bin", "partNumber=1"),
                                    ("PUT", "/backups/sig/big.bin", "partNumber=2"),
                                    ("POST", "/backups/sig/big.bin", "uploadId=capture-upload-1"),
                                    ("GET", "/backups/", "list-type=2"), ("DELETE", "/backups/sig/a%20b%2Bc.txt", "")])
        for r in capture.requests:
            ok, expected = storage_signing.verify_sigv4(r.method, r.path, r.query, r.headers, secret)
            self.assertTrue(ok, f"{r.method} {r.path}?{r.query}: sent {r.headers.get('authorization')}, expected {expected}")
            if r.query.startswith("partNumber="):  # each part's MD5 goes with it, signed
                self.assertIn("content-md5", storage_signing.parse_authorization(r.headers["authorization"])["signed_headers"])


class AzureStorageTest(StorageCase, SiteTestCase):
    wrong_key_message = r"^storage: backups: PUT k.txt: 403 AuthorizationFailure"
    keeps_cut_objects = False

    def start_store(self):
        return storage_servers.AzuriteServer("backups").start()

    def read(self, key):
        return storage_servers.azure_get(self.store, key)

    def keys(self, prefix):
        return [k for k, _ in storage_servers.azure_list(self.store, prefix)]

    def wrong_key_config(self):
        fragment, env = self.store.host_config()
        import base64
        return fragment, {k: base64.b64encode(b"not the account key at all").decode() for k in env}

    def config_through(self, port):
        fragment, env = self.store.host_config()
        endpoint = fragment["azure_blob"]["endpoint"].replace(f":{self.store.port}", f":{port}")
        return {"azure_blob": {**fragment["azure_blob"], "endpoint": endpoint}}, env

    def account_sas(self, permissions):
        """An account SAS for the Blob service (the 2020-12-06+ string to sign), good until 2099."""
        import base64
        import hmac
        from urllib.parse import urlencode
        fields = {"sv": "2021-08-06", "ss": "b", "srt": "sco", "sp": permissions, "se": "2099-01-01T00:00:00Z",
                  "spr": "https,http"}
        text = "\n".join([self.store.account, fields["sp"], fields["ss"], fields["srt"], "", fields["se"], "",
                          fields["spr"], fields["sv"], "", ""])
        sig = base64.b64encode(hmac.new(base64.b64decode(self.store.key), text.encode(), hashlib.sha256).digest())
        return urlencode({**fields, "sig": sig.decode()})

    def test_a_sas_instead_of_the_key(self):
        fragment, _ = self.store.host_config()
        sas_fragment = {"azure_blob": {**{k: v for k, v in fragment["azure_blob"].items() if k != "key"},
                                       "sas": "${env:AZ_SAS}"}}
        full, read_only = self.account_sas("rwdlac"), self.account_sas("rl")
        run = self.run_job("""
assert(storage.put("backups", "sas/a.txt", {content = "by sas"}))
local listed = assert(storage.list("backups", "sas/"))
local got = assert(storage.get("backups", "sas/a.txt", {path = "__DATA__/a.txt"}))
assert(storage.delete("backups", "sas/a.txt"))
return {n = #listed, text = files.read("__DATA__/a.txt"), left = #assert(storage.list("backups", "sas/"))}
""", fragment=sas_fragment, env={"AZ_SAS": full})
        self.assertSucceeded(run)
        self.assertEqual(run["result"], {"n": 1, "text": "by sas", "left": 0})
        run = self.run_job("""
local up, err = storage.put("backups", "sas/b.txt", {content = "refused"})
return {up = up == nil, err = err}
""", fragment=sas_fragment, env={"AZ_SAS": read_only})
        self.assertSucceeded(run)
        self.assertTrue(run["result"]["up"])
        self.assertRegex(run["result"]["err"], r"^storage: backups: PUT sas/b.txt: 403 ")
        sig = read_only.split("sig=")[1]
        self.assertNotIn(sig, run["log"] + json.dumps(run["result"]))
        self.assertEqual(self.keys("sas/"), [])

    def seed(self, key, data):
        storage_servers.azure_put(self.store, key, data)

    def test_shared_key_matches_an_independent_implementation(self):
        capture = CaptureServer(answer=lambda r: (201, {}, b""))
        self.addCleanup(capture.close)
        fragment, env = self.store.host_config()
        account = fragment["azure_blob"]["account"]
        fragment = {"azure_blob": {**fragment["azure_blob"], "endpoint": f"{capture.endpoint}/{account}"}}
        run = self.run_job("""
assert(storage.put("backups", "sig/a b+c.txt", {content = "signed"}, {metadata = {who = "me"}}))
storage.list("backups", "sig/ x+y")
storage.delete("backups", "sig/a b+c.txt")
storage.get("backups", "sig/a b+c.txt", {path = "__DATA__/got.txt"})
return true
""", fragment=fragment, env=env)
        key = list(env.values())[0]
        self.assertEqual([r.method for r in capture.requests], ["PUT", "GET", "DELETE", "GET"], run)
        for r in capture.requests:
            ok, expected = storage_signing.verify_shared_key(r.method, r.path, r.query, r.headers, account, key)
            self.assertTrue(ok, f"{r.method} {r.path}?{r.query}: sent {r.headers.get('authorization')}, expected {expected}")


class PluginStorageTest(SiteTestCase):
    """tests/plugins/storage_calls.c against s3rver: it puts plugin/a.txt ("from a plugin"),
    lists plugin/ and returns {"put": {status, out, error}, "list": {...}} as its result."""

    def setUp(self):
        super().setUp()
        self.assertTrue(os.path.exists(built("storage_calls")), "build the test_plugins target first")
        self.store = storage_servers.S3Server("backups").start()
        self.addCleanup(self.store.stop)

    def run_plugin(self, isolation, allow):
        fragment, env = self.store.host_config()
        site = self.site = PluginSite(config="storage:\n  backups: " + flow(fragment) + "\n")
        site.plugin_job("p", "libstorage_calls.so", schedule=f"{{at: '{soon(2)}'}}", isolation=isolation,
                        timeout="30s", allow=allow)
        site.start(env=env)
        [run] = site.wait_run("p", timeout=60)
        site.stop()
        self.assertEqual(run["status"], "succeeded", f"{run.get('error')}\n{site.log_text()[-3000:]}")
        return json.loads(run["result"])

    def test_put_and_list_through_the_vtable_in_both_isolations(self):
        for isolation in ("process", "inline"):
            with self.subTest(isolation=isolation):
                storage_servers.s3_request(self.store, "DELETE", "plugin/a.txt")  # each isolation on its own
                r = self.run_plugin(isolation, {"storage": ["backups"]})
                self.assertEqual(r["put"], {"status": 0, "out": {"key": "plugin/a.txt", "bytes": 13, "parts": 1},
                                            "error": ""})
                self.assertEqual(r["list"]["status"], 0, r)
                self.assertEqual([(o["key"], o["size"]) for o in r["list"]["out"]], [("plugin/a.txt", 13)])
                self.assertLess(abs(time.time() - r["list"]["out"][0]["modified"]), 600)
                self.assertEqual(storage_servers.s3_get(self.store, "plugin/a.txt"), b"from a plugin")

    def test_a_store_missing_from_allow_storage_is_denied(self):
        for isolation in ("process", "inline"):
            with self.subTest(isolation=isolation):
                r = self.run_plugin(isolation, {"http": ["http://127.0.0.1/"]})
                for op in ("put", "list"):
                    self.assertEqual(r[op]["status"], 2, r)  # CRONHOST_EDENIED
                    self.assertIsNone(r[op]["out"], r)
                    self.assertIn("storage: store backups is not allowed for job p (allow.storage)", r[op]["error"])
                self.assertEqual(storage_servers.s3_list(self.store, ""), [])


if __name__ == "__main__":
    unittest.main()
