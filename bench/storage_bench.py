#!/usr/bin/env python3
"""Upload throughput to the test object stores (tests/support/storage_servers.py: s3rver and
Azurite from npm, `make storage-deps`): one file of --size-mib random bytes PUT in one request
by curl, --runs times per emulator; the median in MiB/s and the emulator's peak RSS. The curl
figure is the ceiling the emulator allows; cronhost's own upload (--host-cmd) is set against it.

  /usr/bin/python3 bench/storage_bench.py --size-mib 256 --runs 3
  /usr/bin/python3 bench/storage_bench.py --host-cmd 'build/cronhost ... {file} {endpoint}'

S3: curl --aws-sigv4 with x-amz-content-sha256: UNSIGNED-PAYLOAD (s3rver checks the access key,
not the signature). Azure: Put Blob (BlockBlob) with a Shared Key header computed here by
storage_signing for the exact Content-Length (Azurite checks it).
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
import storage_servers as ss  # noqa: E402
import storage_signing as sg  # noqa: E402

MIB = 1 << 20


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


# --- cronhost's own upload: the lead plugs the command in --------------------------------------

def host_upload(server, path, template):
    """Seconds that `template` (a shell command) takes to upload `path` to `server`.
    Placeholders: {file} {endpoint} {bucket} (bucket or container) {config} (the host-config
    fragment, YAML). The fragment's secrets (S3_KEY/S3_SECRET or AZ_KEY) are in its environment.
    E.g. a one-shot backup job run by `cronhost dry-run` on a site whose host config holds {config}."""
    config, env = server.host_config_yaml()
    command = template.format(file=shlex.quote(path), endpoint=shlex.quote(server.endpoint),
                              bucket=shlex.quote(getattr(server, "bucket", None) or server.container),
                              config=shlex.quote(config))
    started = time.monotonic()
    result = subprocess.run(command, shell=True, env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=600)
    seconds = time.monotonic() - started
    if result.returncode:
        raise RuntimeError("--host-cmd %r: rc %d\n%s%s" % (command, result.returncode, result.stdout[-2000:],
                                                          result.stderr[-2000:]))
    return seconds


def bench(name, start, upload, listing, path, args):
    size = os.path.getsize(path)
    rows = []
    with start() as server:
        ways = [("curl", lambda key: upload(server, path, key))]
        if args.host_cmd:
            ways.append(("cronhost", lambda key: host_upload(server, path, args.host_cmd)))
        for way, run in ways:
            times = []
            for i in range(args.runs):
                key = "bench/%s-%d" % (way, i)
                times.append(run(key))
                if way == "curl":  # the object is whole: what was sent arrived
                    sizes = dict(listing(server, "bench/"))
                    if sizes.get(key) != size:
                        raise RuntimeError("%s: %s holds %s bytes, sent %d" % (name, key, sizes.get(key), size))
            rows.append((name, way, statistics.median(times), min(times), max(times),
                         server.peak_rss_kib()))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--host-cmd", default=None,
                        help="shell command template uploading {file} to {endpoint}/{bucket} (see host_upload)")
    parser.add_argument("--only", choices=["s3", "azurite"], default=None)
    args = parser.parse_args()
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="cronhost-storage-bench-") as tmp:
        path = os.path.join(tmp, "payload.bin")
        make_file(path, size)
        rows = []
        if args.only in (None, "s3"):
            rows += bench("s3rver", ss.start_s3, curl_s3, ss.s3_list, path, args)
        if args.only in (None, "azurite"):
            rows += bench("azurite", ss.start_azurite, curl_azure, ss.azure_list, path, args)
    print("%d MiB, one PUT, %d runs each" % (args.size_mib, args.runs))
    print("%-8s %-9s %12s %12s %12s %14s" % ("store", "client", "median MiB/s", "min s", "max s", "store peak RSS"))
    for name, way, median, low, high, rss in rows:
        print("%-8s %-9s %12.1f %12.2f %12.2f %11s MiB" % (name, way, args.size_mib / median, low, high,
                                                           "?" if rss is None else rss // 1024))


if __name__ == "__main__":
    main()
