#!/usr/bin/python3
"""Push tiny OCI images to a registry through its HTTP API (stdlib only).

    registry_push.py BASE_URL REPO TAG... [--user U --password P] [--token-url URL]

Every tag gets its own config blob (so each tag has its own manifest digest) over one shared
layer. The auth scheme comes from the registry's challenge on /v2/: Basic uses --user and
--password; Bearer fetches a pull,push token from the realm (or --token-url), sending
--user/--password as Basic to the token endpoint when given.
"""
import argparse
import base64
import gzip
import hashlib
import io
import json
import re
import sys
import tarfile
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode, urljoin

# A proxy from the environment must never see loopback test traffic
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def http(method, url, data=None, headers=None):
    """-> (status, headers, body) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def authorization(base, repo, user, password, token_url):
    """The Authorization header value for pushing to repo, or None when none is needed."""
    status, headers, _ = http("GET", base + "/v2/")
    if status == 200:
        return None
    challenge = headers.get("WWW-Authenticate", "")
    if status != 401 or not challenge:
        raise RuntimeError("GET /v2/ -> %d %s" % (status, challenge))
    if challenge.lower().startswith("basic"):
        return basic(user, password)
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = token_url or params["realm"]
    query = urlencode({"service": params.get("service", ""),
                       "scope": "repository:%s:pull,push" % repo})
    status, _, body = http("GET", realm + "?" + query,
                           headers={"Authorization": basic(user, password)} if user else {})
    if status != 200:
        raise RuntimeError("token request -> %d %s" % (status, body[:200]))
    answer = json.loads(body)
    return "Bearer " + (answer.get("token") or answer["access_token"])


def layer_blob():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"hello from a cronhost test image\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0), "sha256:" + hashlib.sha256(raw).hexdigest()


def push_blob(base, repo, data, auth):
    """-> the blob's descriptor (digest, size) once the registry has it."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    descriptor = {"digest": digest, "size": len(data)}
    if http("HEAD", "%s/v2/%s/blobs/%s" % (base, repo, digest), headers=auth)[0] == 200:
        return descriptor
    # docker-registry 2.8.2 ignores a monolithic POST ?digest=, so always POST then PUT
    status, headers, body = http("POST", "%s/v2/%s/blobs/uploads/" % (base, repo), b"", auth)
    if status != 202:
        raise RuntimeError("POST upload -> %d %s" % (status, body[:300]))
    location = urljoin(base + "/", headers["Location"])
    location += ("&" if "?" in location else "?") + "digest=" + quote(digest)
    status, _, body = http("PUT", location, data,
                           dict(auth, **{"Content-Type": "application/octet-stream"}))
    if status != 201:
        raise RuntimeError("PUT blob -> %d %s" % (status, body[:300]))
    return descriptor


def push(base, repo, tags, user=None, password=None, token_url=None):
    """Push one image per tag; returns {tag: manifest digest}."""
    base = base.rstrip("/")
    header = authorization(base, repo, user, password, token_url)
    auth = {"Authorization": header} if header else {}
    layer, diff_id = layer_blob()
    layer_desc = dict(push_blob(base, repo, layer, auth),
                      mediaType="application/vnd.oci.image.layer.v1.tar+gzip")
    digests = {}
    for tag in tags:
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Labels": {"test.tag": tag}},
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
        config_desc = dict(push_blob(base, repo, config, auth),
                           mediaType="application/vnd.oci.image.config.v1+json")
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": config_desc, "layers": [layer_desc]}).encode()
        status, headers, body = http("PUT", "%s/v2/%s/manifests/%s" % (base, repo, tag), manifest,
                                     dict(auth, **{"Content-Type": OCI_MANIFEST}))
        if status != 201:
            raise RuntimeError("PUT manifest %s -> %d %s" % (tag, status, body[:300]))
        digests[tag] = headers.get("Docker-Content-Digest")
    return digests


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base_url")
    p.add_argument("repo")
    p.add_argument("tags", nargs="+")
    p.add_argument("--user")
    p.add_argument("--password", default="")
    p.add_argument("--token-url", help="token endpoint to use instead of the challenge's realm")
    a = p.parse_args()
    try:
        result = push(a.base_url, a.repo, a.tags, a.user, a.password, a.token_url)
    except RuntimeError as e:
        sys.exit("registry_push: %s" % e)
    for tag, digest in result.items():
        print(tag, digest)
