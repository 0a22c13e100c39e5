"""http and registry APIs against real servers: a loopback HTTP receiver, Debian's
docker-registry (no auth, htpasswd, Bearer tokens) and a spec-following tags stand-in."""
import os
import unittest

from api_site import ApiSite, services

TAGS = ["0.1.2", "0.1.3", "0.1.5", "0.2.0-rc.1", "latest", "sha-abc"]


class HttpTest(unittest.TestCase):
    def setUp(self):
        self.site = ApiSite("http: {max_redirects: 3}\n")
        self.http = services.HttpReceiver(self.site.tmp).__enter__()
        self.allow = f"  http: ['{self.http.url}/']\n"

    def tearDown(self):
        self.http.stop()
        self.site.cleanup()

    def run_lua(self, script, *args, allow=None, extra=""):
        self.site.lua_job("api", script, allow=self.allow if allow is None else allow, extra=extra)
        return self.site.dry_run("api", *args)

    def test_get_json_headers_and_redirects(self):
        u = self.http.url
        out = self.run_lua(f"""
            local r = assert(http.get("{u}/json", {{headers = {{["X-Trace"] = "t1"}}}}))
            print(r.status, r.ok, r.headers["content-type"], r:json().hello, #r:json().n)
            local e = assert(http.get("{u}/echo", {{headers = {{["X-Trace"] = "t1"}}}})):json()
            print(e.method, e.headers["X-Trace"] or e.headers["x-trace"])
            local moved = assert(http.get("{u}/redirect?n=3"))
            print(moved.status, moved.url)
            print(http.get("{u}/redirect?n=4"))
            print(assert(http.get("{u}/status/404")).status)
        """)
        self.assertEqual(out["status"], "succeeded", out)
        lines = self.site.output_lines(out)
        self.assertEqual(lines[0], "200\ttrue\tapplication/json\tworld\t3")
        self.assertEqual(lines[1], "GET\tt1")
        self.assertEqual(lines[2], f"200\t{u}/json")
        self.assertRegex(lines[3], r"^nil\tmore than 3 redirects, the last to /json$")
        self.assertEqual(lines[4], "404")  # a status is an answer, not a failure

    def test_limits_failures_and_misuse_have_exact_errors(self):
        u = self.http.url
        closed = services.free_port()
        out = self.run_lua(f"""
            print(http.get("{u}/big?bytes=5000", {{max_bytes = 1000}}))
            print(http.get("http://127.0.0.1:{closed}/x"))
            print(pcall(http.get, "https://evil.example/steal"))
            print(pcall(http.get, "http://127.0.0.1.nip.io:{self.http.port}/json"))
            print(pcall(http.request, {{url = 42}}))
            print(pcall(http.request, {{url = "{u}/json", hedaers = {{}}}}))
            print(pcall(http.request, {{url = "{u}/json", body = "x", json = {{}}}}))
            print(pcall(http.request, {{method = "BREW", url = "{u}/json"}}))
            print(pcall(http.get, "ftp://127.0.0.1/x"))
        """, allow=f"  http: ['{u}/', 'http://127.0.0.1:{closed}/']\n")
        lines = self.site.output_lines(out)
        self.assertEqual(lines[0], f"nil\tGET {u}/big?bytes=5000: the response is larger than 1000 bytes")
        self.assertTrue(lines[1].startswith(f"nil\tGET http://127.0.0.1:{closed}/x: Couldn't connect to server"), lines[1])
        self.assertEqual(lines[2], "false\thttp: https://evil.example/steal is not allowed for job api (allow.http)")
        self.assertEqual(lines[3], f"false\thttp: http://127.0.0.1.nip.io:{self.http.port}/json is not allowed for job api (allow.http)")
        self.assertEqual(lines[4], "false\thttp.request: field 'url' must be a string (got number)")
        self.assertEqual(lines[5], "false\thttp.request: unknown field 'hedaers', did you mean 'headers'?")
        self.assertEqual(lines[6], "false\thttp.request: give body or json, not both")
        self.assertEqual(lines[7], "false\thttp.request: method 'BREW' is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
        self.assertEqual(lines[8], "false\tonly http and https URLs are supported, not ftp://127.0.0.1/x")

    def test_injected_headers_never_reach_the_server(self):
        # Issue 12, item 2: CR/LF in a header would end it and smuggle a second request (to a
        # path outside allow.http) down the same connection. The loopback server logs every
        # request line it reads: only the clean request arrives.
        u = self.http.url
        out = self.run_lua(f"""
            print(http.get("{u}/hooks/a", {{headers = {{["X-A"] = "1\\r\\n\\r\\nGET /admin HTTP/1.1\\r\\nX-B: 2"}}}}))
            print(http.get("{u}/hooks/b", {{headers = {{["X-A"] = "1\\nX-Injected: yes"}}}}))
            print(http.get("{u}/hooks/c", {{headers = {{["X-A\\r\\nX-Injected"] = "yes"}}}}))
            print(http.get("{u}/hooks/d", {{headers = {{Host = "admin.internal"}}}}))
            print(http.get("{u}/hooks/e", {{headers = {{["transfer-encoding"] = "chunked"}}}}))
            print(http.get("{u}/hooks/f", {{headers = {{["Proxy-Authorization"] = "Basic eA=="}}}}))
            print(http.get("{u}/hooks/g", {{headers = {{["X-A"] = "a\\0b"}}}}))
            print(http.get("{u}/hooks/h", {{headers = {{["X A"] = "1"}}}}))
            print(pcall(http.get, "{u}/hooks/%2e%2e/admin"))
            local ok = assert(http.get("{u}/hooks/ok", {{headers = {{["X-Tab"] = "a\\tb"}}}}))
            print(ok.status)
        """, allow=f"  http: ['{u}/hooks/']\n")
        lines = self.site.output_lines(out)
        control = "its value holds a control character (only visible characters, spaces and tabs are allowed)"
        owned = "is set by the HTTP client, never by a job"
        self.assertEqual(lines[0], f"nil\thttp: header 'X-A': {control}")
        self.assertEqual(lines[1], f"nil\thttp: header 'X-A': {control}")
        self.assertEqual(lines[2], "nil\thttp: header name 'X-A\\r\\nX-Injected' is not a valid header name "
                                   "(letters, digits and !#$%&'*+-.^_`|~)")
        self.assertEqual(lines[3], f"nil\thttp: header 'Host' {owned}")
        self.assertEqual(lines[4], f"nil\thttp: header 'transfer-encoding' {owned}")
        self.assertEqual(lines[5], f"nil\thttp: header 'Proxy-Authorization' {owned}")
        self.assertEqual(lines[6], f"nil\thttp: header 'X-A': {control}")
        self.assertEqual(lines[7], "nil\thttp: header name 'X A' is not a valid header name "
                                   "(letters, digits and !#$%&'*+-.^_`|~)")
        self.assertEqual(lines[8], f"false\thttp: {u}/admin is not allowed for job api (allow.http)")
        self.assertEqual(lines[9], "200")
        requests = self.http.requests()
        self.assertEqual([r["path"] for r in requests], ["/hooks/ok"])
        self.assertEqual(requests[0]["headers"]["x-tab"], "a\tb")

    def test_redirect_outside_the_allowlist_is_refused(self):
        # /redirect?n=1 leads to /json on the same server; allow only /redirect so the hop is refused.
        u = self.http.url
        out = self.run_lua(f'print(http.get("{u}/redirect?n=1"))', allow=f"  http: ['{u}/redirect*']\n")
        self.assertEqual(self.site.output_lines(out)[0],
                         f"nil\tredirect from {u}/redirect?n=1: http: {u}/json is not allowed for job api (allow.http)")

    def test_timeout_is_clipped_to_the_request_and_the_run(self):
        with services.HttpReceiver(self.site.tmp, delay=3) as slow:
            out = self.run_lua(f'print(http.get("{slow.url}/json", {{timeout = 0.3}}))',
                               allow=f"  http: ['{slow.url}/']\n")
            self.assertEqual(self.site.output_lines(out)[0], f"nil\tGET {slow.url}/json: timed out after 300 ms")
            out = self.run_lua(f'print(http.get("{slow.url}/json"))', allow=f"  http: ['{slow.url}/']\n",
                               extra="timeout: 1s\n")
            self.assertEqual(out["status"], "timed_out", out)

    def test_dry_run_captures_writes_and_offline_reads_nothing(self):
        u = self.http.url
        script = f"""
            local r = assert(http.post("{u}/hooks/deploy", {{json = {{version = "0.1.5"}},
                                       headers = {{Authorization = "Bearer " .. job.params.token}}}}))
            print(r.status, r.dry_run, job.params.token)
            print(http.get("{u}/json"))
        """
        os.environ["CRONHOST_TEST_TOKEN"] = "tok-1234567890"
        out = self.run_lua(script, extra="params: {token: '${env:CRONHOST_TEST_TOKEN}'}\n")
        lines = self.site.output_lines(out)
        self.assertEqual(lines[0], "200\ttrue\t***")
        self.assertTrue(lines[1].startswith("table:"), lines[1])
        self.assertEqual([r["method"] for r in self.http.requests()], ["GET"])  # the POST was not sent
        effect = out["effects"][0]
        self.assertEqual(effect["summary"], f"POST {u}/hooks/deploy (19 bytes)")
        self.assertEqual(effect["detail"]["headers"]["Authorization"], "Bearer ***")
        self.assertEqual(effect["detail"]["body"], '{"version":"0.1.5"}')

        out = self.run_lua(script, "--offline", extra="params: {token: '${env:CRONHOST_TEST_TOKEN}'}\n")
        self.assertEqual(self.site.output_lines(out)[1], f"nil\tGET {u}/json: not performed (offline dry run)")
        self.assertEqual(len(self.http.requests()), 1)

    def test_live_post_reaches_the_server_and_secrets_stay_hidden(self):
        u = self.http.url
        os.environ["CRONHOST_TEST_TOKEN"] = "tok-live-0987654321"
        self.site.lua_job("hook", f"""
            local r = assert(http.post("{u}/hooks/deploy", {{json = {{from = "0.1.2", to = "0.1.5"}},
                                       headers = {{Authorization = "Bearer " .. job.params.token}}}}))
            local again = assert(http.request{{method = "PUT", url = "{u}/hooks/x", body = "plain"}})
            log.info("token is ", job.params.token)
            return {{status = r.status, again = again.status, token = job.params.token}}
        """, allow=self.allow, schedule="{cron: '* * * * * *'}", extra="params: {token: '${env:CRONHOST_TEST_TOKEN}'}\n")
        self.site.start()
        runs = self.site.wait_run("hook")
        self.site.stop()
        self.assertEqual(runs[0]["status"], "succeeded", runs[0])
        self.assertEqual(runs[0]["output"], "[info] token is ***\n")
        self.assertIn('"token":"***"', runs[0]["result"])
        self.assertNotIn("tok-live-0987654321", self.site.log_text())
        self.assertIn("token is ***", self.site.log_text())
        post = [r for r in self.http.requests() if r["method"] == "POST"][0]
        self.assertEqual(post["headers"]["authorization"], "Bearer tok-live-0987654321")  # sent, never shown
        self.assertEqual(post["path"], "/hooks/deploy")
        self.assertEqual(post["headers"]["content-type"], "application/json")
        self.assertEqual(post["body"], '{"from":"0.1.2","to":"0.1.5"}')
        self.assertIn("PUT", [r["method"] for r in self.http.requests()])


class RegistryTest(unittest.TestCase):
    def setUp(self):
        self.site = ApiSite()

    def tearDown(self):
        self.site.cleanup()

    def check(self, registry_url, script, config_extra="", pattern=None):
        host = registry_url.split("//")[1]
        self.site.write("cronhost.yaml", "workers: 2\nregistries:\n"
                        f"  '{host}': {{url: '{registry_url}'{config_extra}}}\n")
        self.site.lua_job("rc", script.replace("HOST", host),
                          allow=f"  registry: ['{pattern or host + '/acme/*'}']\n")
        return self.site.dry_run("rc")

    SCRIPT = """
        print(registry.latest("HOST/acme/app"))
        print(registry.latest("HOST/acme/app", {prerelease = true}))
        print(registry.latest("HOST/acme/app", {constraint = "<0.1.5"}))
        local tags = assert(registry.tags("HOST/acme/app"))
        table.sort(tags)
        print(table.concat(tags, ","))
    """
    EXPECTED = ["0.1.5", "0.2.0-rc.1", "0.1.3", "0.1.2,0.1.3,0.1.5,0.2.0-rc.1,latest,sha-abc"]

    def test_docker_registry_without_auth(self):
        with services.DockerRegistry(self.site.tmp) as reg:
            reg.push("acme/app", *TAGS)
            out = self.check(reg.url, self.SCRIPT)
        self.assertEqual(self.site.output_lines(out), self.EXPECTED, out)

    def test_docker_registry_with_basic_auth(self):
        with services.DockerRegistry(self.site.tmp, auth="htpasswd") as reg:
            reg.push("acme/app", *TAGS)
            out = self.check(reg.url, self.SCRIPT, ", user: tester, password: s3cret")
            self.assertEqual(self.site.output_lines(out), self.EXPECTED, out)
            host = reg.url.split("//")[1]
            out = self.check(reg.url, 'print(registry.tags("HOST/acme/app"))')
            self.assertEqual(self.site.output_lines(out)[0],
                             f"nil\tregistry: {host} requires a user and password for {host}/acme/app "
                             f"(registries: {host}: user, password in the host config)")
            out = self.check(reg.url, 'print(registry.tags("HOST/acme/app"))', ", user: tester, password: wrong-one")
            self.assertEqual(self.site.output_lines(out)[0],
                             f"nil\tregistry: authentication failed for {host}/acme/app (401)")

    def test_docker_registry_with_bearer_tokens(self):
        with services.DockerRegistry(self.site.tmp, auth="token") as reg:
            reg.push("acme/app", *TAGS)
            before = len(reg.token_server.requests())
            out = self.check(reg.url, self.SCRIPT)
            self.assertEqual(self.site.output_lines(out), self.EXPECTED, out)
            asked = reg.token_server.requests()[before:]
        self.assertEqual(len(asked), 1, "one token for the whole run")
        self.assertEqual(asked[0]["scope"], ["repository:acme/app:pull"])
        self.assertEqual(asked[0]["service"], "registry.test")

    def test_link_pagination_unsorted_and_ghcr_style_tokens(self):
        for flags in ({"page_size": 2, "unsorted": True, "bearer": True}, {"page_size": 4, "absolute_links": True}):
            with services.FakeOci(self.site.tmp, TAGS, **flags) as fake:
                out = self.check(fake.url, self.SCRIPT)
                self.assertEqual(self.site.output_lines(out), self.EXPECTED, (flags, out))
                pages = [r for r in fake.requests() if "/tags/list" in r["path"] and r["status"] == 200]
                self.assertEqual(len(pages), 4 * (6 // flags["page_size"] + (6 % flags["page_size"] > 0)))

    def test_outages_missing_images_and_denials(self):
        with services.FakeOci(self.site.tmp, TAGS, status=503) as fake:
            host = fake.url.split("//")[1]
            out = self.check(fake.url, """
                print(registry.tags("HOST/acme/app"))
                print(pcall(registry.tags, "HOST/other/app"))
                print(pcall(registry.tags, "HOST/acme/app:1.0"))
                print(pcall(registry.latest, "HOST/acme/app", {constraint = ">=1.x.y"}))
            """)
        lines = self.site.output_lines(out)
        self.assertEqual(lines[0], f"nil\tregistry: {host}/acme/app: the registry answered 503: UNAVAILABLE status forced by --status")
        self.assertEqual(lines[1], f"false\tregistry: {host}/other/app is not allowed for job rc (allow.registry)")
        self.assertEqual(lines[2], f"false\tregistry.tags: registry: give the image without a tag or digest, "
                                   f"e.g. ghcr.io/acme/app (got {host}/acme/app:1.0)")
        self.assertTrue(lines[3].startswith('false\tregistry.latest: constraint ">=1.x.y"'), lines[3])
        with services.DockerRegistry(self.site.tmp) as reg:
            host = reg.url.split("//")[1]
            out = self.check(reg.url, 'print(registry.tags("HOST/acme/missing"))')
        self.assertEqual(self.site.output_lines(out)[0],
                         f"nil\tregistry: {host}/acme/missing not found (404: NAME_UNKNOWN repository name not known to registry)")


if __name__ == "__main__":
    unittest.main()
