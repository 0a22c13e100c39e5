"""The object-storage test helpers checked themselves, before any test of cronhost's backups
relies on them: storage_signing against AWS's published SigV4 examples and against curl's
signer, storage_servers against the real emulators (s3rver, Azurite: put, get, list with
paging, kill, nothing left behind), and Azurite refusing a wrong Shared Key."""
import base64
import hashlib
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from capture_server import CaptureServer  # noqa: E402
import storage_servers as ss  # noqa: E402
import storage_signing as sg  # noqa: E402

# The "Examples" of AWS's "Authenticating Requests: Using the Authorization Header (AWS
# Signature Version 4)" for Amazon S3: a bucket, keys and time given there, and the signatures
# the page prints.
AWS_ACCESS_KEY, AWS_SECRET_KEY = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_DATE, AWS_HOST = "20130524T000000Z", "examplebucket.s3.amazonaws.com"


def aws_example(method, path, query, headers, body=b""):
    return sg.sign_sigv4(method, path, query, {"Host": AWS_HOST, **headers}, AWS_ACCESS_KEY, AWS_SECRET_KEY,
                         payload_hash=sg.sha256_hex(body), amz_date=AWS_DATE)


def signature_of(headers):
    return sg.parse_authorization(headers["Authorization"])["signature"]


class SigV4KnownAnswerTest(unittest.TestCase):
    def test_get_object_example_canonical_request_string_to_sign_and_signature(self):
        headers = aws_example("GET", "/test.txt", "", {"Range": "bytes=0-9"})
        canonical = sg.canonical_request("GET", "/test.txt", "", headers,
                                         ["host", "range", "x-amz-content-sha256", "x-amz-date"], sg.EMPTY_SHA256)
        self.assertEqual(canonical, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                         "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
                         "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        self.assertEqual(sg.string_to_sign(AWS_DATE, "20130524/us-east-1/s3/aws4_request", canonical),
                         "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                         "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
        self.assertEqual(headers["Authorization"],
                         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")

    def test_put_object_bucket_lifecycle_and_list_objects_examples(self):
        put = aws_example("PUT", "/test$file.text", "", {"Date": "Fri, 24 May 2013 00:00:00 GMT",
                                                         "x-amz-storage-class": "REDUCED_REDUNDANCY"},
                          b"Welcome to Amazon S3.")
        self.assertEqual(signature_of(put), "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
        lifecycle = aws_example("GET", "/", "lifecycle", {})
        self.assertEqual(signature_of(lifecycle), "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
        listing = aws_example("GET", "/", "max-keys=2&prefix=J", {})
        self.assertEqual(signature_of(listing), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")

    def test_verify_accepts_the_example_as_received_and_refuses_any_change(self):
        received = {k.lower(): v for k, v in aws_example("GET", "/test.txt", "", {"Range": "bytes=0-9"}).items()}
        self.assertEqual(sg.verify_sigv4("GET", "/test.txt", "", received, AWS_SECRET_KEY),
                         (True, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))
        self.assertFalse(sg.verify_sigv4("GET", "/test.txt", "", received, "another secret")[0])
        self.assertFalse(sg.verify_sigv4("GET", "/test.txt", "", {**received, "range": "bytes=0-10"},
                                         AWS_SECRET_KEY)[0])
        self.assertFalse(sg.verify_sigv4("GET", "/test.txt", "a=1", received, AWS_SECRET_KEY)[0])
        self.assertFalse(sg.verify_sigv4("HEAD", "/test.txt", "", received, AWS_SECRET_KEY)[0])


class CaptureServerTest(unittest.TestCase):
    """The capture server records requests as sent, and verify_sigv4 agrees with curl's own
    SigV4 signer (a second independent implementation) on a path and query needing encoding."""

    def test_curl_sigv4_put_verifies_and_a_wrong_secret_does_not(self):
        with CaptureServer() as cap:
            url = cap.endpoint + "/backups/host%20a/db%2B1.tar?x-id=PutObject"
            body = b"backup bytes\n" * 1000
            result = subprocess.run(
                ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--aws-sigv4", "aws:amz:us-east-1:s3",
                 "--user", "S3RVER:S3RVER", "-H", "x-amz-content-sha256: " + sg.sha256_hex(body),
                 "--data-binary", "@-", "-X", "PUT", url],
                input=body, capture_output=True, timeout=30)
            self.assertEqual(result.stdout, b"200", result.stderr)
            (request,) = cap.wait_requests(1)
        self.assertEqual((request.method, request.path, request.query),
                         ("PUT", "/backups/host%20a/db%2B1.tar", "x-id=PutObject"))
        self.assertEqual((request.body_length, request.body_sha256), (len(body), sg.sha256_hex(body)))
        ok, expected = sg.verify_sigv4(request.method, request.path, request.query, request.headers, "S3RVER")
        self.assertTrue(ok, "curl sent %s, we expected %s" % (request.headers["authorization"], expected))
        self.assertFalse(sg.verify_sigv4(request.method, request.path, request.query, request.headers, "S3RVER2")[0])

    def test_canned_multipart_and_list_answers(self):
        with CaptureServer() as cap:
            ss_like = type("S", (), {"port": cap.port, "bucket": "backups", "access_key": "S3RVER",
                                     "secret_key": "S3RVER", "region": "us-east-1"})
            status, _, body = ss.s3_request(ss_like, "POST", "k", query="uploads")
            self.assertEqual(status, 200)
            self.assertIn(b"<UploadId>capture-upload-1</UploadId>", body)
            self.assertEqual(ss.s3_list(ss_like, "p/"), [])
            requests = cap.wait_requests(2)
        for r in requests:
            self.assertTrue(sg.verify_sigv4(r.method, r.path, r.query, r.headers, "S3RVER")[0], r)

    def test_shared_key_verifies_as_received(self):
        with CaptureServer(status=201) as cap:
            az_like = type("A", (), {"port": cap.port, "account": sg.AZURITE_ACCOUNT, "key": sg.AZURITE_KEY,
                                     "container": "backups"})
            status, _, _ = ss.azure_request(az_like, "PUT", "host a/db.tar", b"abc", query="comp=block&blockid=QQ%3D%3D",
                                            headers={"x-ms-blob-type": "BlockBlob"})
            self.assertEqual(status, 201)
            (r,) = cap.wait_requests(1)
        self.assertEqual((r.path, r.query), ("/devstoreaccount1/backups/host%20a/db.tar", "comp=block&blockid=QQ%3D%3D"))
        self.assertTrue(sg.verify_shared_key(r.method, r.path, r.query, r.headers, sg.AZURITE_ACCOUNT, sg.AZURITE_KEY)[0])
        self.assertFalse(sg.verify_shared_key(r.method, r.path, r.query, {**r.headers, "content-length": "4"},
                                              sg.AZURITE_ACCOUNT, sg.AZURITE_KEY)[0])


class S3ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.context = ss.start_s3(bucket="backups")
        cls.s3 = cls.context.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.context.__exit__(None, None, None)

    def test_put_get_list_with_paging(self):
        data = os.urandom(100_000)
        ss.s3_put(self.s3, "host a/2026-12-04/db+1.tar", data)
        for i in range(5):
            ss.s3_put(self.s3, "paged/%d" % i, b"x" * i)
        self.assertEqual(ss.s3_get(self.s3, "host a/2026-12-04/db+1.tar"), data)
        self.assertEqual(ss.s3_list(self.s3, "host a/"), [("host a/2026-12-04/db+1.tar", len(data))])
        # Two keys a page: three ListObjectsV2 calls joined by continuation tokens.
        self.assertEqual(ss.s3_list(self.s3, "paged/", page_size=2), [("paged/%d" % i, i) for i in range(5)])

    def test_an_unknown_access_key_is_refused_but_a_wrong_secret_is_not(self):
        # What the emulator checks, so that no test counts on s3rver to catch a bad signature.
        other = type("S", (), {"port": self.s3.port, "bucket": "backups", "access_key": "NOBODY",
                               "secret_key": "S3RVER", "region": "us-east-1"})
        status, _, body = ss.s3_request(other, "GET", "anything")
        self.assertEqual(status, 403)
        self.assertIn(b"InvalidAccessKeyId", body)
        status, _, _ = ss.s3_request(self.s3, "PUT", "wrong-secret", b"x", secret_key="WRONG")
        self.assertEqual(status, 200)

    def test_what_s3rver_does_not_check(self):
        # Canaries for storage_servers' notes: a cronhost test cannot count on s3rver for these.
        wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
        status, _, _ = ss.s3_request(self.s3, "PUT", "md5", b"data", headers={"Content-MD5": wrong_md5})
        self.assertEqual(status, 200)  # S3 answers 400 BadDigest
        for query in ("uploads", "uploads="):
            key = "multipart/" + query
            status, _, body = ss.s3_request(self.s3, "POST", key, query=query)
            self.assertEqual(status, 200, body)
            upload = body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
            status, headers, _ = ss.s3_request(self.s3, "PUT", key, b"small part",
                                               query="partNumber=1&uploadId=" + upload)
            self.assertEqual(status, 200)
            done = ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
                    "</CompleteMultipartUpload>" % headers["etag"]).encode()
            status, _, body = ss.s3_request(self.s3, "POST", key, done, query="uploadId=" + upload)
            self.assertEqual(status, 200, body)
            self.assertEqual(ss.s3_get(self.s3, key), b"small part")

    def test_host_config_names_the_server_and_keeps_secrets_in_env(self):
        fragment, env = self.s3.host_config()
        self.assertEqual(fragment["s3"]["endpoint"], "http://127.0.0.1:%d" % self.s3.port)
        self.assertEqual((fragment["s3"]["bucket"], fragment["s3"]["path_style"]), ("backups", True))
        self.assertEqual(env, {"S3_KEY": "S3RVER", "S3_SECRET": "S3RVER"})


class AzuriteServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.context = ss.start_azurite(container="backups")
        cls.az = cls.context.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.context.__exit__(None, None, None)

    def test_put_get_list_with_paging(self):
        data = os.urandom(100_000)
        ss.azure_put(self.az, "host a/2026-12-04/db+1.tar", data)
        for i in range(5):
            ss.azure_put(self.az, "paged/%d" % i, b"x" * i)
        self.assertEqual(ss.azure_get(self.az, "host a/2026-12-04/db+1.tar"), data)
        self.assertEqual(ss.azure_list(self.az, "host a/"), [("host a/2026-12-04/db+1.tar", len(data))])
        self.assertEqual(ss.azure_list(self.az, "paged/", page_size=2), [("paged/%d" % i, i) for i in range(5)])

    def test_a_wrong_key_is_refused(self):
        wrong = base64.b64encode(hashlib.sha512(b"not the key").digest()).decode()
        status, headers, body = ss.azure_request(self.az, "PUT", "refused", b"x",
                                                 headers={"x-ms-blob-type": "BlockBlob"}, key=wrong)
        # Azure itself says AuthenticationFailed; Azurite 3.35 says AuthorizationFailure.
        self.assertEqual((status, headers.get("x-ms-error-code")), (403, "AuthorizationFailure"), body)
        self.assertEqual(ss.azure_list(self.az, "refused"), [])

    def test_content_md5_is_checked_on_put_block_and_put_blob(self):
        good = base64.b64encode(hashlib.md5(b"data").digest()).decode()
        bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
        block = "comp=block&blockid=" + base64.b64encode(b"block-1").decode().replace("=", "%3D")
        status, headers, _ = ss.azure_request(self.az, "PUT", "md5", b"data", query=block, headers={"Content-MD5": good})
        self.assertEqual(status, 201)
        self.assertNotIn("content-md5", headers)  # Azure answers it; Azurite does not
        status, headers, _ = ss.azure_request(self.az, "PUT", "md5", b"data", query=block, headers={"Content-MD5": bad})
        self.assertEqual((status, headers.get("x-ms-error-code")), (400, "InvalidOperation"))
        status, headers, _ = ss.azure_request(self.az, "PUT", "md5", b"data",
                                              headers={"x-ms-blob-type": "BlockBlob", "Content-MD5": bad})
        self.assertEqual((status, headers.get("x-ms-error-code")), (400, "InvalidOperation"))
        status, headers, _ = ss.azure_request(self.az, "PUT", "md5", b"data", headers={"x-ms-blob-type": "BlockBlob"})
        self.assertEqual((status, headers.get("content-md5")), (201, good))

    def test_only_known_api_versions_are_accepted(self):
        status, _, _ = ss.azure_request(self.az, "GET", query="comp=list&restype=container",
                                        headers={"x-ms-version": "2021-08-06"})
        self.assertEqual(status, 200)
        status, headers, _ = ss.azure_request(self.az, "GET", query="comp=list&restype=container",
                                              headers={"x-ms-version": "2021-08-07"})
        self.assertEqual((status, headers.get("x-ms-error-code")), (400, "InvalidHeaderValue"))

    def test_host_config_names_the_account_endpoint(self):
        fragment, env = self.az.host_config()
        self.assertEqual(fragment["azure_blob"]["endpoint"], "http://127.0.0.1:%d/devstoreaccount1" % self.az.port)
        self.assertEqual(fragment["azure_blob"]["container"], "backups")
        self.assertEqual(env, {"AZ_KEY": sg.AZURITE_KEY})


class LifecycleTest(unittest.TestCase):
    def test_kill_then_exit_leaves_no_process_and_no_folder(self):
        for start in (ss.start_s3, ss.start_azurite):
            with start() as server:
                pid, folder = server.proc.pid, server.dir
                self.assertTrue(os.path.isdir(os.path.join(folder, "data")))
                server.kill()
                with self.assertRaises(ConnectionRefusedError):
                    ss.s3_get(server, "x") if start is ss.start_s3 else ss.azure_get(server, "x")
            self.assertFalse(os.path.exists(folder), folder)
            self.assertFalse(os.path.exists("/proc/%d" % pid), pid)


if __name__ == "__main__":
    unittest.main()
