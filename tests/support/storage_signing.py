"""Request signing for S3 (AWS Signature Version 4) and Azure Blob (Shared Key), written from
the providers' documents with hmac/hashlib only, independently of cronhost's C++ client, so a
test can tell whether what cronhost sent was signed right (stdlib only, /usr/bin/python3).

    from storage_signing import sign_sigv4, verify_sigv4, sign_shared_key

    headers = sign_sigv4("PUT", "/backups/a b.tar", "", {"Host": "127.0.0.1:9000"},
                         "S3RVER", "S3RVER", payload_hash=sha256_hex(body))
    ok, expected = verify_sigv4("PUT", raw_path, raw_query, received_headers, "S3RVER")
    headers = sign_shared_key("PUT", "/devstoreaccount1/backups/x", "", {...}, account, key)

SigV4: "Authenticating Requests: Using the Authorization Header (AWS Signature Version 4)" and
its "Examples" page (the GET Object example is tests/integration/test_storage_support.py's
known answer). S3 encodes the path once (other services twice) and keeps '/' unencoded.
Shared Key: "Authorize with Shared Key" (Azure Storage REST API), the Blob/Queue/File form for
x-ms-version 2015-02-21 and later: Content-Length is empty when 0. The emulator's path holds the
account (http://host/devstoreaccount1/container/blob), and the canonicalized resource is then
"/devstoreaccount1/devstoreaccount1/container/blob" (the account, then the path as sent).
"""
import base64
import hashlib
import hmac
import re
import time
from urllib.parse import parse_qsl, quote, unquote

SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# The emulator's account and its key, as Microsoft publishes them (Azurite's README).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURE_VERSION = "2021-08-06"


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def _hmac(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


# --- AWS SigV4 -------------------------------------------------------------------------------

def uri_encode(text, encode_slash=True):
    """AWS's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ as %XY (upper-case hex); '/' kept
    in paths."""
    return quote(text, safe="-._~" + ("" if encode_slash else "/"))


def _query_pairs(query):
    # A raw query string ("a=1&uploads") or pairs; a bare name has the empty value.
    if isinstance(query, str):
        return parse_qsl(query, keep_blank_values=True)
    if isinstance(query, dict):
        return list(query.items())
    return list(query or ())


def canonical_query(query):
    """Names and values each UriEncoded, sorted by name then value, joined by '&'."""
    pairs = sorted((uri_encode(k), uri_encode(v)) for k, v in _query_pairs(query))
    return "&".join("%s=%s" % kv for kv in pairs)


def _trim(value):
    return re.sub(r"\s+", " ", str(value).strip())


def canonical_request(method, path, query, headers, signed_headers, payload_hash):
    """The six lines: method, canonical URI, canonical query, canonical headers (name:value,
    lower-case, sorted, each ending in a newline), signed header names, payload hash.
    `path` is the decoded key path ("/bucket/a b"); it is encoded here once."""
    lower = {k.lower(): _trim(v) for k, v in headers.items()}
    names = sorted(signed_headers)
    missing = [n for n in names if n not in lower]
    if missing:
        raise KeyError("signed header(s) %s not in the request's headers" % ", ".join(missing))
    canon_headers = "".join("%s:%s\n" % (n, lower[n]) for n in names)
    return "\n".join([method.upper(), uri_encode(path or "/", encode_slash=False), canonical_query(query),
                      canon_headers, ";".join(names), payload_hash])


def credential_scope(amz_date, region, service):
    return "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)


def string_to_sign(amz_date, scope, canonical):
    return "\n".join([SIGV4_ALGORITHM, amz_date, scope, sha256_hex(canonical.encode("utf-8"))])


def signing_key(secret_key, date, region, service):
    """HMAC chain: "AWS4"+secret -> date (YYYYMMDD) -> region -> service -> "aws4_request"."""
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def sigv4_signature(secret_key, amz_date, region, service, canonical):
    scope = credential_scope(amz_date, region, service)
    key = signing_key(secret_key, amz_date[:8], region, service)
    return hmac.new(key, string_to_sign(amz_date, scope, canonical).encode("utf-8"),
                    hashlib.sha256).hexdigest()


def sign_sigv4(method, path, query, headers, access_key, secret_key, region="us-east-1",
               service="s3", payload_hash=UNSIGNED_PAYLOAD, amz_date=None):
    """A copy of `headers` with x-amz-date, x-amz-content-sha256 and Authorization added; every
    header given (Host must be among them) is signed. `path` is decoded ("/bucket/a b")."""
    amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = dict(headers)
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_hash
    if not any(k.lower() == "host" for k in out):
        raise KeyError("sign_sigv4: headers need Host")
    signed = sorted({k.lower() for k in out})
    canonical = canonical_request(method, path, query, out, signed, payload_hash)
    signature = sigv4_signature(secret_key, amz_date, region, service, canonical)
    out["Authorization"] = "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        SIGV4_ALGORITHM, access_key, credential_scope(amz_date, region, service), ";".join(signed), signature)
    return out


def parse_authorization(value):
    """'AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b,
    Signature=hex' -> {access_key, date, region, service, signed_headers: [..], signature}."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != SIGV4_ALGORITHM:
        raise ValueError("Authorization: algorithm %r is not %s" % (algorithm, SIGV4_ALGORITHM))
    fields = {}
    for part in rest.split(","):
        name, eq, val = part.strip().partition("=")
        if not eq:
            raise ValueError("Authorization: %r is not name=value" % part.strip())
        fields[name] = val
    for name in ("Credential", "SignedHeaders", "Signature"):
        if name not in fields:
            raise ValueError("Authorization: no %s in %r" % (name, value))
    cred = fields["Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request":
        raise ValueError("Authorization: Credential %r is not AK/DATE/REGION/SERVICE/aws4_request"
                         % fields["Credential"])
    return {"access_key": cred[0], "date": cred[1], "region": cred[2], "service": cred[3],
            "signed_headers": fields["SignedHeaders"].split(";"), "signature": fields["Signature"]}


def verify_sigv4(method, path, query, headers, secret_key):
    """Recomputes the signature of a request as it was received: `path` raw (percent-encoded as
    sent), `query` the raw query string, `headers` what arrived (its Authorization names the
    signed headers and the scope; x-amz-date the time). -> (ok, expected_signature)."""
    lower = {k.lower(): v for k, v in headers.items()}
    if "authorization" not in lower:
        raise KeyError("verify_sigv4: the request has no Authorization header")
    auth = parse_authorization(lower["authorization"])
    amz_date = lower.get("x-amz-date")
    if not amz_date:
        raise KeyError("verify_sigv4: the request has no x-amz-date header")
    if amz_date[:8] != auth["date"]:
        return False, "x-amz-date %s is not the Credential's date %s" % (amz_date, auth["date"])
    payload_hash = lower.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
    canonical = canonical_request(method, unquote(path), query, lower, auth["signed_headers"], payload_hash)
    expected = sigv4_signature(secret_key, amz_date, auth["region"], auth["service"], canonical)
    return hmac.compare_digest(expected, auth["signature"]), expected


# --- Azure Shared Key (Blob) -----------------------------------------------------------------

# The standard headers of the string to sign, in its order.
_SHARED_KEY_HEADERS = ("content-encoding", "content-language", "content-length", "content-md5",
                       "content-type", "date", "if-modified-since", "if-match", "if-none-match",
                       "if-unmodified-since", "range")


def canonicalized_resource(account, path, query):
    """'/' + account + the path as sent, then '\\nname:v1,v2' per query parameter: names
    lower-cased and sorted, values decoded and sorted."""
    out = "/" + account + (path or "/")
    params = {}
    for name, value in _query_pairs(query):
        params.setdefault(name.lower(), []).append(value)
    for name in sorted(params):
        out += "\n%s:%s" % (name, ",".join(sorted(params[name])))
    return out


def shared_key_string_to_sign(method, path, query, headers, account):
    lower = {k.lower(): _trim(v) for k, v in headers.items()}
    standard = [lower.get(n, "") for n in _SHARED_KEY_HEADERS]
    if standard[2] == "0":
        standard[2] = ""  # x-ms-version 2015-02-21 and later
    ms = "".join("%s:%s\n" % (n, lower[n]) for n in sorted(n for n in lower if n.startswith("x-ms-")))
    return "\n".join([method.upper(), *standard]) + "\n" + ms + canonicalized_resource(account, path, query)


def shared_key_signature(key_b64, text):
    return base64.b64encode(hmac.new(base64.b64decode(key_b64), text.encode("utf-8"),
                                     hashlib.sha256).digest()).decode()


def sign_shared_key(method, path, query, headers, account, key_b64, version=AZURE_VERSION):
    """A copy of `headers` with x-ms-date, x-ms-version and Authorization: SharedKey added.
    `path` is the path as it will be sent (already percent-encoded)."""
    out = dict(headers)
    out.setdefault("x-ms-date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
    out.setdefault("x-ms-version", version)
    text = shared_key_string_to_sign(method, path, query, out, account)
    out["Authorization"] = "SharedKey %s:%s" % (account, shared_key_signature(key_b64, text))
    return out


def verify_shared_key(method, path, query, headers, account, key_b64):
    """Recomputes a received request's Shared Key signature -> (ok, expected_authorization)."""
    lower = {k.lower(): v for k, v in headers.items()}
    received = lower.pop("authorization", "")
    expected = "SharedKey %s:%s" % (account, shared_key_signature(
        key_b64, shared_key_string_to_sign(method, path, query, lower, account)))
    return hmac.compare_digest(expected, received), expected
