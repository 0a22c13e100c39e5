#!/usr/bin/env python3
"""Upload throughput to the test object stores (tests/support/storage_servers.py: s3rver and
Azurite from npm, `make storage-deps`): one file of --size-mib random bytes, --runs times per
emulator, PUT by curl and uploaded by cronhost itself; the median in MiB/s, cronhost's over
curl's, the daemon's RSS around its uploads and the emulator's peak RSS. The ways take turns
round after round, each after a sync with the store emptied (otherwise the later ways ran on a
disk still writing back the earlier ways' GiBs, and lost a third of their speed).

  CRONHOST_BIN=build/cronhost /usr/bin/python3 bench/storage_bench.py --curl-parts --host-parts

curl: one PUT. S3: curl --aws-sigv4 with x-amz-content-sha256: UNSIGNED-PAYLOAD (s3rver checks
the access key, not the signature). Azure: Put Blob (BlockBlob) with a Shared Key header
computed here by storage_signing for the exact Content-Length (Azurite checks it).
--curl-parts: curl also sends the requests cronhost sends above its multipart threshold (16 MiB
parts: S3 multipart upload, Azure Put Block + Put Block List; one curl process, one
connection, no Content-MD5): "vs curl same reqs" is cronhost against that.

cronhost: the real daemon (`cronhost run`) on a site of its own whose host config names the
emulator as store `backups` (the store's defaults: one request up to 512 MiB, hashed as it is
sent, so 256 MiB goes as one PUT like curl's), with one Lua job doing storage.put("backups", KEY, {path = FILE}), started
through the admin API (POST /api/jobs/put/trigger). Its time is the run's duration_ms from the
state (the Lua sandbox has no wall clock finer than os.time's seconds; a run's own overhead,
~1 ms, is noise beside seconds of upload). The daemon's VmRSS is read from /proc every 20 ms
while the run runs: it must stay flat, since the host streams the file from disk.
--host-parts: a second daemon whose threshold is below the file (16 MiB parts, each with the
Content-MD5 computed before it is sent, the next part hashed while one is sent).

Measured on this 2-core machine (load average 1; 256 MiB, medians of 3), README "Uploads to
object stores": s3rver curl 1 PUT 276 MiB/s, curl 16 parts 127, cronhost 1 PUT (the default up
to 512 MiB) 206 (75%), cronhost 16 parts 115 (91% of the same requests by curl); Azurite curl 1
PUT 174, curl 16 parts 176, cronhost 1 PUT 195 (112%), cronhost 16 parts 126 (72%). The daemon's
RSS grew by 2.5-4.3 MiB during an upload (21-25 MiB before). The daemon spends 0.46 s of CPU on
a 256 MiB upload to S3 in parts and 0.84 s to Azure in blocks (the part MD5s, and the whole
blob's MD5 besides), three quarters of it in MD5 (perf). With s3rver, node is the bottleneck
(its CPU time is the upload's wall time); s3rver's multipart is slow by itself: each part is
written to disk and hashed, and Complete re-reads all parts into a new object, hashing and
writing it again (0.9-1.1 s of 2.2 for 256 MiB).
"""
import argparse
import base64
import json
import os
import re
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
import storage_servers as ss  # noqa: E402
import storage_signing as sg  # noqa: E402

MIB = 1 << 20
BIN = os.environ.get("CRONHOST_BIN", "build/cronhost")
PART_SIZE = 16 * MIB  # the store's default part_size_mb, for --curl-parts
SAMPLE_SECONDS = 0.02  # the RSS sampling period
START_TIMEOUT = 30.0
RUN_TIMEOUT = 600.0
FINISHED = ("succeeded", "failed", "timed_out", "skipped", "cancelled", "interrupted")
# A proxy from the environment must never see loopback traffic.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def make_file(path, size):
    with open(path, "wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))
        f.write(os.urandom(size % MIB))


def curl(argv):
    started = time.monotonic()
    result = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", *argv],
                            capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    if result.returncode or result.stdout not in ("200", "201"):
        raise RuntimeError("curl %s: rc %d, HTTP %s, %s" % (argv[-1], result.returncode, result.stdout,
                                                           result.stderr.strip()))
    return seconds


def curl_s3(server, path, key):
    return curl(["--aws-sigv4", "aws:amz:%s:s3" % server.region, "--user",
                 "%s:%s" % (server.access_key, server.secret_key),
                 "-H", "x-amz-content-sha256: " + sg.UNSIGNED_PAYLOAD,
                 "-T", path, "%s/%s/%s" % (server.endpoint, server.bucket, key)])


def curl_azure(server, path, key):
    url_path = "/%s/%s/%s" % (server.account, server.container, key)
    headers = sg.sign_shared_key("PUT", url_path, "", {"Content-Length": str(os.path.getsize(path)),
                                                      "x-ms-blob-type": "BlockBlob"}, server.account, server.key)
    argv = []
    for name, value in headers.items():
        if name != "Content-Length":  # curl -T sends it
            argv += ["-H", "%s: %s" % (name, value)]
    return curl(argv + ["-T", path, "http://127.0.0.1:%d%s" % (server.port, url_path)])


# --- curl in parts: the same requests as cronhost's multipart upload, one curl process ------------
# (--next: one connection for all), no Content-MD5. Tells what the emulator's multipart
# handling costs, apart from anything cronhost does.

def split_parts(path, part_size, tmp):
    """The file cut into part files (page-cached, like the original) beside it; their paths."""
    paths = []
    with open(path, "rb") as f:
        while True:
            data = f.read(part_size)
            if not data:
                return paths
            paths.append(os.path.join(tmp, "part-%05d" % len(paths)))
            with open(paths[-1], "wb") as out:
                out.write(data)


def curl_many(transfers):
    """One curl process, the transfers (argv lists) joined by --next; each one's write-out."""
    argv = ["curl", "-sS"]
    for i, transfer in enumerate(transfers):
        argv += (["--next"] if i else []) + ["-o", "/dev/null", "-w", "%{http_code} %header{etag}\\n", *transfer]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    lines = result.stdout.splitlines()
    if result.returncode or len(lines) != len(transfers) or any(not l.startswith(("200", "201")) for l in lines):
        raise RuntimeError("curl in parts: rc %d, %s, %s" % (result.returncode, lines, result.stderr.strip()))
    return [l.split(" ", 1)[1] for l in lines]


def curl_body(argv):
    result = subprocess.run(["curl", "-sS", "--fail-with-body", *argv], capture_output=True, text=True, timeout=60)
    if result.returncode:
        raise RuntimeError("curl %s: rc %d, %s%s" % (argv[-1], result.returncode, result.stdout, result.stderr))
    return result.stdout


def curl_s3_parts(server, parts, key):
    sign = ["--aws-sigv4", "aws:amz:%s:s3" % server.region, "--user", "%s:%s" % (server.access_key, server.secret_key),
            "-H", "x-amz-content-sha256: " + sg.UNSIGNED_PAYLOAD]
    url = "%s/%s/%s" % (server.endpoint, server.bucket, key)
    started = time.monotonic()
    upload_id = re.search(r"<UploadId>([^<]+)</UploadId>", curl_body([*sign, "-X", "POST", url + "?uploads"])).group(1)
    query = "uploadId=" + quote(upload_id, safe="")
    etags = curl_many([[*sign, "-T", part, "%s?partNumber=%d&%s" % (url, i + 1, query)] for i, part in enumerate(parts)])
    done = "<CompleteMultipartUpload>%s</CompleteMultipartUpload>" % "".join(
        "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>" % (i + 1, etag) for i, etag in enumerate(etags))
    curl_body([*sign, "-H", "Content-Type: application/xml", "--data-binary", done, url + "?" + query])
    return time.monotonic() - started


def azure_signed(server, method, url_path, query, headers):
    signed = sg.sign_shared_key(method, url_path, query, headers, server.account, server.key)
    return [a for name, value in signed.items() if name != "Content-Length" for a in ("-H", "%s: %s" % (name, value))]


def curl_azure_parts(server, parts, key):
    url_path = "/%s/%s/%s" % (server.account, server.container, key)
    url = "http://127.0.0.1:%d%s" % (server.port, url_path)
    ids = [base64.b64encode(b"%06d" % i).decode() for i in range(len(parts))]  # alphanumeric, one length
    started = time.monotonic()
    transfers = []
    for block_id, part in zip(ids, parts):
        query = "comp=block&blockid=" + block_id
        headers = azure_signed(server, "PUT", url_path, query, {"Content-Length": str(os.path.getsize(part))})
        transfers.append([*headers, "-T", part, url + "?" + query])
    curl_many(transfers)
    body = "<BlockList>%s</BlockList>" % "".join("<Latest>%s</Latest>" % i for i in ids)
    headers = azure_signed(server, "PUT", url_path, "comp=blocklist",
                           {"Content-Length": str(len(body)), "Content-Type": "application/xml"})
    curl_body([*headers, "-X", "PUT", "--data-binary", body, url + "?comp=blocklist"])
    return time.monotonic() - started


# --- cronhost's own upload ----------------------------------------------------------------------

def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("/proc/%d/status: no VmRSS" % pid)


class HostSite:
    """`cronhost run` on a folder of its own (config, jobs.d, state, log) whose host config
    names `server` as store `backups`; `settings` are added to the store's entry. One job,
    `put`, uploads `path` to bench/host-RUN_ID when triggered. Stop with stop()."""

    SCRIPT = """local up = assert(storage.put("backups", "bench/host-" .. job.run_id, {path = %s}))
return up
"""

    def __init__(self, server, path, tmp, settings=None):
        fragment, self.env = server.host_config()
        fragment = {**fragment, **(settings or {})}  # beside the s3/azure_blob entry
        self.root = tempfile.mkdtemp(prefix="host-", dir=tmp)
        self.state = os.path.join(self.root, "state.db")
        self.port_file = os.path.join(self.root, "api.port")
        self.token = secrets.token_hex(16)
        self._write("token", self.token + "\n")
        # JSON is YAML flow style, so the fragment and the paths go in as JSON.
        self._write("cronhost.yaml", "workers: 2\nshutdown_grace: 2s\nstorage:\n  backups: %s\n"
                    "server:\n  listen: \"127.0.0.1:0\"\n  port_file: %s\n  tokens:\n"
                    "    - {name: bench, role: operator, token: \"${file:%s}\"}\n"
                    % (json.dumps(fragment), json.dumps(self.port_file), os.path.join(self.root, "token")))
        self._write("jobs.d/put.yaml", "schedule: {at: '2099-01-01T00:00:00Z'}\nrun: {lua: scripts/put.lua}\n"
                    "timeout: %ds\nallow:\n  storage: [backups]\n  files: [%s]\n"
                    % (RUN_TIMEOUT, json.dumps(os.path.dirname(path))))
        self._write("scripts/put.lua", self.SCRIPT % json.dumps(path))  # a JSON string is a Lua string here
        self.proc = None

    def _write(self, relative, text):
        full = os.path.join(self.root, relative)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)

    def log_tail(self, size=3000):
        with open(os.path.join(self.root, "host.log"), errors="replace") as f:
            return f.read()[-size:]

    def start(self):
        self.log = open(os.path.join(self.root, "host.log"), "ab")
        self.proc = subprocess.Popen([BIN, "run", "--jobs", os.path.join(self.root, "jobs.d"), "--state", self.state,
                                      "--config", os.path.join(self.root, "cronhost.yaml")],
                                     stdout=self.log, stderr=self.log, env={**os.environ, **self.env})
        deadline = time.monotonic() + START_TIMEOUT
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("%s run: not up within %ss (exit code %s):\n%s"
                                   % (BIN, START_TIMEOUT, self.proc.returncode, self.log_tail()))
            time.sleep(0.05)
        return self

    def _healthy(self):
        try:
            with open(self.port_file) as f:
                self.base = "http://127.0.0.1:%d" % int(f.read().strip())
            request = urllib.request.Request(self.base + "/health", headers={"Authorization": "Bearer " + self.token})
            with OPENER.open(request, timeout=2) as response:
                return response.status == 200
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def trigger(self):
        request = urllib.request.Request(self.base + "/api/jobs/put/trigger", data=b"{}", method="POST", headers={
            "Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        with OPENER.open(request, timeout=15) as response:
            return json.loads(response.read())["run_id"]

    def run_row(self, run_id):
        db = sqlite3.connect("file:%s?mode=ro" % self.state, uri=True, timeout=10)
        try:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            return dict(row) if row else None
        finally:
            db.close()

    def upload(self):
        """One triggered run, RSS sampled every SAMPLE_SECONDS until it finishes: a dict with
        seconds (duration_ms), key, parts, rss_before and rss_peak (KiB)."""
        before = vm_rss_kib(self.proc.pid)
        peak = before
        run_id = self.trigger()
        deadline = time.monotonic() + RUN_TIMEOUT + 30
        row, next_look = None, 0.0
        while True:
            peak = max(peak, vm_rss_kib(self.proc.pid))
            now = time.monotonic()
            if now >= next_look:  # the state file: every 5th sample, to stay light
                row = self.run_row(run_id)
                if row and row["status"] in FINISHED:
                    break
                next_look = now + 5 * SAMPLE_SECONDS
            if now > deadline:
                raise RuntimeError("run %d of put: not finished after %ss:\n%s" % (run_id, RUN_TIMEOUT, self.log_tail()))
            time.sleep(SAMPLE_SECONDS)
        if row["status"] != "succeeded":
            raise RuntimeError("run %d of put: %s: %s\n%s" % (run_id, row["status"], row.get("error"), self.log_tail()))
        result = json.loads(row["result"])
        return {"seconds": row["duration_ms"] / 1000.0, "key": result["key"], "parts": result["parts"],
                "rss_before": before, "rss_peak": peak}


# --- the table ----------------------------------------------------------------------------------

def check_whole(name, listing, server, key, size):
    sizes = dict(listing(server, "bench/"))
    if sizes.get(key) != size:  # the object is whole: what was sent arrived
        raise RuntimeError("%s: %s holds %s bytes, sent %d" % (name, key, sizes.get(key), size))


def bench(name, start, upload, parts_upload, listing, remove, path, parts, tmp, args):
    """Rows for one emulator. The ways take turns, round after round, each after a sync and
    with the store emptied: no way runs on a disk still writing back an earlier one's GiBs."""
    size = os.path.getsize(path)
    with start() as server:
        ways = [{"client": "curl 1 PUT", "go": lambda key: {"seconds": upload(server, path, key), "key": key}}]
        if args.curl_parts:
            ways.append({"client": "curl %d parts" % len(parts),
                         "go": lambda key: {"seconds": parts_upload(server, parts, key), "key": key}})
        sites = []
        try:
            if not args.no_host:
                variants = [("cronhost", None)]
                if args.host_parts:
                    variants.append(("cronhost %d parts" % len(parts), {"multipart_threshold_mb": 16, "part_size_mb": 16}))
                for client, settings in variants:
                    sites.append(HostSite(server, path, tmp, settings).start())
                    ways.append({"client": client, "go": lambda key, site=sites[-1]: site.upload()})
            for way in ways:
                way["runs"] = []
            for i in range(args.runs):
                for n, way in enumerate(ways):
                    os.sync()
                    run = way["go"]("bench/way%d-%d" % (n, i))
                    check_whole(name, listing, server, run["key"], size)
                    remove(server, run["key"])
                    way["runs"].append(run)
        finally:
            for site in sites:
                site.stop()
        store_rss = server.peak_rss_kib()
    rows = []
    median = {way["client"]: statistics.median(r["seconds"] for r in way["runs"]) for way in ways}
    for way in ways:
        client, runs = way["client"], way["runs"]
        like = None  # the curl way that sends the same requests
        if client.startswith("cronhost"):
            like = "curl 1 PUT"
            if runs[0]["parts"] > 1:
                like = "curl %d parts" % runs[0]["parts"] if args.curl_parts else None
        if client == "cronhost":
            client += " %d part%s" % (runs[0]["parts"], "s" if runs[0]["parts"] > 1 else "")
        rows.append({"store": name, "client": client, "times": [r["seconds"] for r in runs], "store_rss": store_rss,
                     "runs": runs if "rss_before" in runs[0] else [],
                     "ratio": None if way is ways[0] else median["curl 1 PUT"] / median[way["client"]],
                     "ratio_like": median[like] / median[way["client"]] if like in median else None})
    return rows


def s3_remove(server, key):
    ss.s3_request(server, "DELETE", key)


def azure_remove(server, key):
    ss.azure_request(server, "DELETE", key)


def percent(ratio):
    return "-" if ratio is None else "%.0f%%" % (100 * ratio)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["s3", "azurite"], default=None)
    parser.add_argument("--no-host", action="store_true", help="curl only (no cronhost binary needed)")
    parser.add_argument("--host-parts", action="store_true",
                        help="also cronhost with the multipart threshold below the file: 16 MiB parts, as --curl-parts")
    parser.add_argument("--curl-parts", action="store_true",
                        help="also curl in 16 MiB parts (multipart / Put Block): the emulator's multipart cost")
    args = parser.parse_args()
    if not args.no_host and not os.access(BIN, os.X_OK):
        sys.exit("%s: not an executable; set CRONHOST_BIN (or --no-host)" % BIN)
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="cronhost-storage-bench-") as tmp:
        path = os.path.join(tmp, "payload.bin")
        make_file(path, size)
        parts = split_parts(path, PART_SIZE, tmp) if args.curl_parts else []
        rows = []
        if args.only in (None, "s3"):
            rows += bench("s3rver", ss.start_s3, curl_s3, curl_s3_parts, ss.s3_list, s3_remove, path, parts, tmp, args)
        if args.only in (None, "azurite"):
            rows += bench("azurite", ss.start_azurite, curl_azure, curl_azure_parts, ss.azure_list, azure_remove, path,
                          parts, tmp, args)
    print("%d MiB file, %d runs each; cronhost: the run's duration_ms, its daemon's VmRSS sampled every %d ms"
          % (args.size_mib, args.runs, SAMPLE_SECONDS * 1000))
    print("%-8s %-18s %8s %7s %7s %8s %10s %21s %11s" % ("store", "client", "MiB/s", "min s", "max s", "vs curl",
                                                          "vs curl", "daemon RSS MiB", "store peak"))
    print("%-8s %-18s %8s %7s %7s %8s %10s %21s %11s" % ("", "", "(median)", "", "", "1 PUT", "same reqs",
                                                          "before/peak/+growth", "RSS MiB"))
    for row in rows:
        median = statistics.median(row["times"])
        rss = "-"
        if row["runs"]:
            before = max(r["rss_before"] for r in row["runs"])
            peak = max(r["rss_peak"] for r in row["runs"])
            growth = max(r["rss_peak"] - r["rss_before"] for r in row["runs"])
            rss = "%d/%d/+%.1f" % (before // 1024, peak // 1024, growth / 1024)
        print("%-8s %-18s %8.1f %7.2f %7.2f %8s %10s %21s %11s" % (
            row["store"], row["client"], args.size_mib / median, min(row["times"]), max(row["times"]),
            percent(row["ratio"]), percent(row["ratio_like"]), rss,
            "?" if row["store_rss"] is None else row["store_rss"] // 1024))


if __name__ == "__main__":
    main()
