"""Throwaway object stores for the off-site backup tests: s3rver (S3) and Azurite (Azure Blob),
from npm, pinned by tests/storage/package-lock.json (`make storage-deps`). Stdlib only,
/usr/bin/python3.

From Python (tests/integration puts tests/support on sys.path):

    with storage_servers.start_s3(bucket="backups") as s3:
        s3.endpoint, s3.port, s3.bucket, s3.access_key, s3.secret_key
        fragment, env = s3.host_config()             # {"s3": {...}}, {"S3_KEY": .., "S3_SECRET": ..}
        storage_servers.s3_put(s3, "a/b.tar", b"...")
        storage_servers.s3_get(s3, "a/b.tar")        # -> bytes
        storage_servers.s3_list(s3, "a/")            # -> [("a/b.tar", 3)]
        s3.kill()                                    # SIGKILL: the store goes away mid-upload
    # stopped: no process, no directory left

    with storage_servers.start_azurite(container="backups") as az:
        az.endpoint, az.account, az.key, az.container # endpoint http://127.0.0.1:PORT
        fragment, env = az.host_config()             # {"azure_blob": {...}}, {"AZ_KEY": ..}
        storage_servers.azure_put(az, "x", b"..."); azure_get(az, "x"); azure_list(az, "")

From anything else (the C++ tests), the same as a command:

    /usr/bin/python3 tests/support/storage_servers.py start s3|azurite [--name backups]

prints one JSON line (server.info(), or {"error": ...} and exit 1), then stays in the
foreground until SIGTERM/SIGINT or its stdin closes, and stops the server.

Each server listens on 127.0.0.1 on a free port (taken again if another process grabbed it
first) and keeps its objects in a fresh folder (beneath `parent`, default the temp folder)
that goes with it; it dies with the thread that started it (PR_SET_PDEATHSIG). The helpers
here sign with storage_signing, an implementation independent of cronhost's.

What the emulators check and do, found with s3rver 3.7.1 and Azurite 3.35.0 on Node 20:
- s3rver checks the access key id (an unknown one: 403 InvalidAccessKeyId) and needs
  x-amz-content-sha256 (400 InvalidRequest without), but NOT SigV4 signatures (its code:
  "unimplemented"; a wrong secret gets 200) and takes anonymous requests: test signing with
  capture_server and storage_signing.verify_sigv4. It ignores Content-MD5 (a wrong one: 200,
  no BadDigest) and x-amz-content-sha256's value, and does not decode aws-chunked bodies
  (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): the chunk framing is stored as the object, with 200.
  Multipart: ?uploads and ?uploads= both initiate; parts under 5 MiB are taken (S3 refuses
  them with EntityTooSmall). ListObjectsV2 (list-type=2) answers KeyCount, IsTruncated and a
  NextContinuationToken holding + / =, in namespace http://doc.s3.amazonaws.com/2006-03-01/
  (not S3's http://s3.amazonaws.com/doc/2006-03-01/). Its tokens are DES-encrypted: node runs
  it with --openssl-legacy-provider, else every truncated listing is a 500 InternalError.
  A Host that is not an IP or localhost is read as a virtual-host bucket name.
- Azurite checks Shared Key: a wrong key or no Authorization gets 403 AuthorizationFailure
  (Azure says AuthenticationFailed). The canonicalized resource must hold the account twice
  (/devstoreaccount1/devstoreaccount1/container/blob); the one-account form gets 403. It
  takes only the x-ms-version values it lists (2021-08-06 yes, 2021-08-07 no: 400
  InvalidHeaderValue), so neither --loose nor --skipApiVersionCheck is needed. It checks
  Content-MD5 on Put Blob and Put Block (400 InvalidOperation "Provided contentMD5 doesn't
  match", Azure says Md5Mismatch); Put Blob answers Content-MD5 (computed when not sent), Put
  Block answers neither Content-MD5 nor x-ms-content-crc64 (Azure does), Put Block List
  answers the MD5 of its XML body and stores x-ms-blob-content-md5 unchecked. Block ids of
  different lengths in one blob: 400 InvalidBlobOrBlock. Names under 3 characters: 400
  OutOfRangeInput.
"""
import argparse
import contextlib
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from urllib.parse import quote, urlencode

import storage_signing as signing

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = "/usr/bin/node"
MODULES = os.path.normpath(os.path.join(HERE, "..", "storage", "node_modules"))
S3RVER_JS = os.path.join(MODULES, "s3rver", "bin", "s3rver.js")
AZURITE_BLOB_JS = os.path.join(MODULES, "azurite", "dist", "src", "blob", "main.js")
# Measured on this 2-core machine while idle: s3rver answers 0.5 s after the start, Azurite
# 0.9 s. The bound is for a machine far busier than that.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
REQUEST_TIMEOUT = 30.0
PORT_ATTEMPTS = 5
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class StorageServerError(RuntimeError):
    pass


def _die_with_parent():
    # In the child: a test process killed with -9 takes its emulator with it (as dbserver.py).
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    """A port that was free a moment ago; servers that lose the race are started again."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port):
    # Any HTTP answer means the server is up (both answer an anonymous GET / with an error).
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
        return True
    except OSError:
        return False


class _Emulator:
    """One emulator process (node) in its own folder. start() starts it and waits until it
    answers, kill() sends SIGKILL, stop() stops it and removes the folder."""
    kind, script, prefix = None, None, None
    node_flags = ()

    def __init__(self, parent=None):
        if not os.path.exists(self.script):
            raise StorageServerError("%s not found: run `make storage-deps` (npm ci in tests/storage)"
                                     % self.script)
        self.dir = tempfile.mkdtemp(prefix=self.prefix, dir=parent)
        self.data = os.path.join(self.dir, "data")
        os.mkdir(self.data)
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc, self.port, self.startup_seconds = None, None, None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        started = time.monotonic()
        for attempt in range(PORT_ATTEMPTS):
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [NODE, *self.node_flags, self.script, *self.argv()], stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True, preexec_fn=_die_with_parent,
                    env={"PATH": "/usr/bin:/bin", "HOME": self.dir, "LANG": "C.UTF-8", "TZ": "UTC"})
            deadline = time.monotonic() + START_TIMEOUT
            while not _answers(self.port):
                if self.proc.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    self.kill()
                    raise StorageServerError("%s not ready after %ss; log %s:\n%s"
                                             % (self.kind, START_TIMEOUT, self.log_path, self.log_tail()))
                time.sleep(0.02)
            else:
                self.setup()
                self.startup_seconds = round(time.monotonic() - started, 3)
                return self
            if "EADDRINUSE" not in self.log_tail() or attempt == PORT_ATTEMPTS - 1:
                raise StorageServerError("%s exited (rc %s) while starting; log %s:\n%s"
                                         % (self.kind, self.proc.returncode, self.log_path, self.log_tail()))

    def setup(self):
        pass

    def log_tail(self, size=4000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-size:]
        except OSError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def peak_rss_kib(self):
        """VmHWM of the node process (while it runs), else None."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except (OSError, AttributeError):
            return None

    def kill(self):
        """SIGKILL to the emulator's process group; reaps it. Its folder stays until stop()."""
        if self.running():
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait()

    def stop(self):
        """SIGTERM (SIGKILL after STOP_TIMEOUT), then removes the folder."""
        if self.running():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        elif self.proc is not None:
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def host_config_yaml(self):
        """The host-config fragment as YAML text (a JSON flow mapping is YAML), and its env."""
        fragment, env = self.host_config()
        return json.dumps(fragment), env


class S3Server(_Emulator):
    kind, script, prefix = "s3", S3RVER_JS, "cronhost-s3rver-"
    access_key = secret_key = "S3RVER"  # s3rver's only account
    region = "us-east-1"
    # s3rver's ListObjectsV2 continuation tokens are DES-encrypted, which Node 20's OpenSSL 3
    # refuses without its legacy provider: any truncated list-type=2 answer was a 500.
    node_flags = ("--openssl-legacy-provider",)

    def __init__(self, bucket="backups", parent=None):
        super().__init__(parent)
        self.bucket = bucket

    def argv(self):
        return ["-d", self.data, "-a", "127.0.0.1", "-p", str(self.port), "--silent",
                "--configure-bucket", self.bucket]

    def host_config(self):
        """({"s3": {...}}, env) for cronhost's host config; the secrets come from env."""
        return ({"s3": {"endpoint": self.endpoint, "region": self.region, "bucket": self.bucket,
                        "access_key": "${env:S3_KEY}", "secret_key": "${env:S3_SECRET}",
                        "path_style": True}},
                {"S3_KEY": self.access_key, "S3_SECRET": self.secret_key})

    def info(self):
        return {"kind": self.kind, "endpoint": self.endpoint, "port": self.port, "bucket": self.bucket,
                "region": self.region, "access_key": self.access_key, "secret_key": self.secret_key,
                "dir": self.dir, "pid": self.proc.pid, "startup_seconds": self.startup_seconds}


class AzuriteServer(_Emulator):
    kind, script, prefix = "azurite", AZURITE_BLOB_JS, "cronhost-azurite-"
    account, key = signing.AZURITE_ACCOUNT, signing.AZURITE_KEY

    def __init__(self, container="backups", parent=None):
        super().__init__(parent)
        self.container = container

    def argv(self):
        # --disableTelemetry: Azurite 3.3x otherwise sends usage data out. No --loose and no
        # --skipApiVersionCheck: x-ms-version 2021-08-06 is in Azurite 3.35's list of versions
        # (it refuses any version not in that list with 400 InvalidHeaderValue, 2021-08-07 too).
        return ["--blobHost", "127.0.0.1", "--blobPort", str(self.port), "-l", self.data,
                "--silent", "--disableTelemetry"]

    @property
    def account_endpoint(self):
        return "%s/%s" % (self.endpoint, self.account)

    def setup(self):
        status, _, body = azure_request(self, "PUT", "", query="restype=container")
        if status != 201:
            raise StorageServerError("azurite: creating container %s: HTTP %d %s"
                                     % (self.container, status, body[:500]))

    def host_config(self):
        """({"azure_blob": {...}}, env) for cronhost's host config; the key comes from env."""
        return ({"azure_blob": {"account": self.account, "container": self.container,
                                "key": "${env:AZ_KEY}", "endpoint": self.account_endpoint}},
                {"AZ_KEY": self.key})

    def info(self):
        return {"kind": self.kind, "endpoint": self.account_endpoint, "port": self.port,
                "container": self.container, "account": self.account, "key": self.key,
                "dir": self.dir, "pid": self.proc.pid, "startup_seconds": self.startup_seconds}


@contextlib.contextmanager
def start_s3(bucket="backups", parent=None):
    server = S3Server(bucket, parent)
    try:
        yield server.start()
    finally:
        server.stop()


@contextlib.contextmanager
def start_azurite(container="backups", parent=None):
    server = AzuriteServer(container, parent)
    try:
        yield server.start()
    finally:
        server.stop()


# --- reading and writing objects independently of cronhost -----------------------------------

def _send(port, method, target, headers, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def s3_request(server, method, key="", body=b"", query="", headers=None, secret_key=None):
    """One SigV4-signed request on /bucket/key -> (status, headers lower-cased, body)."""
    path = "/%s/%s" % (server.bucket, key) if key else "/%s" % server.bucket
    signed = signing.sign_sigv4(method, path, query, {"Host": "127.0.0.1:%d" % server.port, **(headers or {})},
                                server.access_key, secret_key or server.secret_key, server.region,
                                payload_hash=signing.sha256_hex(body))
    target = quote(path, safe="/-._~") + ("?" + query if query else "")
    return _send(server.port, method, target, signed, body)


def _check(status, want, what, body):
    if status not in want:
        raise StorageServerError("%s: HTTP %d %s" % (what, status, body[:500].decode(errors="replace")))


def s3_put(server, key, data, headers=None):
    status, _, body = s3_request(server, "PUT", key, data, headers=headers)
    _check(status, (200,), "s3 PUT %s/%s" % (server.bucket, key), body)


def s3_get(server, key):
    status, _, body = s3_request(server, "GET", key)
    _check(status, (200,), "s3 GET %s/%s" % (server.bucket, key), body)
    return body


def s3_list(server, prefix="", page_size=1000):
    """[(key, size)] of every object under prefix (ListObjectsV2, following continuation)."""
    out, token = [], None
    while True:
        params = [("list-type", "2"), ("max-keys", str(page_size)), ("prefix", prefix)]
        params += [("continuation-token", token)] if token else []
        status, _, body = s3_request(server, "GET", query=urlencode(params, quote_via=quote))
        _check(status, (200,), "s3 list %s prefix %r" % (server.bucket, prefix), body)
        root = ET.fromstring(body)
        ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        for item in root.iter(ns + "Contents"):
            out.append((item.findtext(ns + "Key"), int(item.findtext(ns + "Size"))))
        token = root.findtext(ns + "NextContinuationToken")
        if root.findtext(ns + "IsTruncated") != "true" or not token:
            return out


def azure_request(server, method, blob="", body=b"", query="", headers=None, key=None):
    """One Shared-Key-signed request on /account/container[/blob] -> (status, headers, body)."""
    path = "/%s/%s" % (server.account, server.container) + ("/" + quote(blob, safe="/-._~") if blob else "")
    base = {"Host": "127.0.0.1:%d" % server.port, **(headers or {})}
    if method in ("PUT", "POST"):
        base["Content-Length"] = str(len(body))
    signed = signing.sign_shared_key(method, path, query, base, server.account, key or server.key)
    return _send(server.port, method, path + ("?" + query if query else ""), signed, body)


def azure_put(server, blob, data, headers=None):
    status, _, body = azure_request(server, "PUT", blob, data,
                                    headers={"x-ms-blob-type": "BlockBlob", **(headers or {})})
    _check(status, (201,), "azure PUT %s/%s" % (server.container, blob), body)


def azure_get(server, blob):
    status, _, body = azure_request(server, "GET", blob)
    _check(status, (200,), "azure GET %s/%s" % (server.container, blob), body)
    return body


def azure_list(server, prefix="", page_size=5000):
    """[(name, size)] of every blob under prefix (List Blobs, following NextMarker)."""
    out, marker = [], ""
    while True:
        params = [("comp", "list"), ("maxresults", str(page_size)), ("prefix", prefix), ("restype", "container")]
        if marker:
            params.append(("marker", marker))
        status, _, body = azure_request(server, "GET", query=urlencode(params, quote_via=quote))
        _check(status, (200,), "azure list %s prefix %r" % (server.container, prefix), body)
        root = ET.fromstring(body)
        for blob in root.iter("Blob"):
            out.append((blob.findtext("Name"), int(blob.findtext("Properties/Content-Length"))))
        marker = root.findtext("NextMarker") or ""
        if not marker:
            return out


# --- the command ------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description="Start s3rver or Azurite until SIGTERM or stdin EOF.")
    parser.add_argument("command", choices=["start"])
    parser.add_argument("kind", choices=["s3", "azurite"])
    parser.add_argument("--name", default="backups", help="bucket or container (default backups)")
    parser.add_argument("--dir", default=None, help="parent folder (default: the temp folder)")
    args = parser.parse_args()
    try:
        server = (S3Server if args.kind == "s3" else AzuriteServer)(args.name, args.dir)
    except StorageServerError as e:
        print(json.dumps({"error": str(e)}), flush=True)
        return 1
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(0))
    try:
        server.start()
        print(json.dumps(server.info()), flush=True)
        sys.stdin.read()  # until the caller closes the pipe (or a signal ends us)
    except StorageServerError as e:
        print(json.dumps({"error": str(e)}), flush=True)
        return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
