"""Real and stand-in network services for integration tests, as context managers.

Run tests with /usr/bin/python3: Debian's aiosmtpd, jwt and cryptography are not visible to
the pyenv `python3` on PATH. Everything listens on 127.0.0.1 only.

    with SmtpSink(tmp, user="tester", password="s3cret") as smtp:
        ...send to 127.0.0.1:smtp.port...
        mail = smtp.wait_messages(1)[0]        # mail.message, mail.envelope, mail.raw

Each class starts its server in __enter__, waits until it is ready (RuntimeError with the
server's log if it exits or is not up within START_TIMEOUT), and stops it in __exit__
(SIGTERM, then SIGKILL after 5 s). Each instance works in its own fresh subdirectory of tmpdir.
"""
import collections
import ctypes
import email
import email.policy
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
START_TIMEOUT = 10.0
# A proxy from the environment must never see loopback test traffic
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Mail = collections.namedtuple("Mail", "message envelope raw")


def free_port():
    """A port that was free a moment ago (for servers that cannot use port 0 themselves)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(directory, name="server", cn="localhost"):
    """Self-signed cert valid for localhost and 127.0.0.1 -> (cert path, key path)."""
    cert, key = os.path.join(directory, name + "-cert.pem"), os.path.join(directory, name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]  # skip a half-written line


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.02)


def _die_with_parent():
    # A crashed test run must not leave servers holding ports. PR_SET_PDEATHSIG fires when the
    # thread that started the child exits, so start services from a long-lived thread.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class Service:
    """One child process with a log file. Subclasses implement start()."""
    name = "service"

    def __init__(self, tmpdir):
        self.dir = tempfile.mkdtemp(prefix=self.name + "-", dir=tmpdir)
        self.log_path = os.path.join(self.dir, self.name + ".log")
        self.proc = None
        self.port = None
        self.startup_seconds = None  # spawn until ready

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def spawn(self, argv):
        self.terminate()  # a retry replaces the previous attempt
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                                         env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self._spawned_at = time.monotonic()

    def wait_ready(self, ready, what, timeout=START_TIMEOUT):
        """Poll ready() until true; raise with the log if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited (rc %s) before %s; log:\n%s"
                                   % (self.name, self.proc.returncode, what, self.log_text()))
            if time.monotonic() > deadline:
                raise RuntimeError("%s not ready after %ss (%s); log:\n%s"
                                   % (self.name, timeout, what, self.log_text()))
            time.sleep(0.01)
        self.startup_seconds = time.monotonic() - self._spawned_at

    def spawn_script(self, script, *args, port=0):
        """Start one of our scripts on `port` (0: kernel-chosen) and read the port it got."""
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.remove(port_file)
        self.spawn([PYTHON, os.path.join(HERE, script), "--listen", "127.0.0.1:%d" % port,
                    "--port-file", port_file, *args])
        self.wait_ready(lambda: os.path.exists(port_file), "writing its port file")
        with open(port_file) as f:
            self.port = int(f.read())

    def stop(self):
        self.terminate()

    def terminate(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class SmtpSink(Service):
    """smtp_sink.py. tls=True offers STARTTLS (AUTH only after it), smtps=True is implicit TLS;
    .cert is then the CA file for clients. reject="451 4.3.0 try later" refuses every DATA
    (only the first reject_times ones, if given)."""
    name = "smtp"

    def __init__(self, tmpdir, user=None, password=None, tls=False, smtps=False, reject=None,
                 reject_times=None, port=0):
        super().__init__(tmpdir)
        self.fixed_port = port  # to bring a relay up where a client already points
        self.user, self.password = user, password
        self.tls, self.smtps = tls, smtps
        self.reject, self.reject_times = reject, reject_times
        self.out = os.path.join(self.dir, "out")
        self.cert = self.key = None

    def start(self):
        args = ["--out", self.out]
        if self.user:
            args += ["--user", self.user, "--password", self.password or ""]
        if self.tls or self.smtps:
            self.cert, self.key = make_cert(self.dir)
            args += ["--tls-cert", self.cert, "--tls-key", self.key]
        if self.smtps:
            args.append("--smtps")
        if self.reject:
            args += ["--reject", self.reject]
        if self.reject_times is not None:
            args += ["--reject-times", str(self.reject_times)]
        self.spawn_script("smtp_sink.py", *args, port=self.fixed_port)

    def client_context(self):
        """An ssl.SSLContext that trusts this sink's certificate."""
        return ssl.create_default_context(cafile=self.cert)

    def messages(self):
        """Accepted messages in arrival order, as Mail(message, envelope, raw)."""
        mails = []
        for name in sorted(os.listdir(self.out)) if os.path.isdir(self.out) else []:
            if name.endswith(".json"):  # written after its .eml, so the pair is complete
                base = os.path.join(self.out, name[:-5])
                with open(base + ".eml", "rb") as f:
                    raw = f.read()
                with open(base + ".json") as f:
                    envelope = json.load(f)
                mails.append(Mail(email.message_from_bytes(raw, policy=email.policy.default),
                                  envelope, raw))
        return mails

    def wait_messages(self, n, timeout=10.0):
        """Wait until at least n messages arrived; returns messages()."""
        wait_for(lambda: len(self.messages()) >= n, timeout, "%d message(s) at the SMTP sink" % n)
        return self.messages()

    def rejected(self):
        """Envelopes of refused messages (one per refused DATA)."""
        return read_jsonl(os.path.join(self.out, "rejected.jsonl"))


class HttpReceiver(Service):
    """http_receiver.py: records requests; answers status/body after delay seconds."""
    name = "http"

    def __init__(self, tmpdir, status=200, body=None, delay=None, content_type=None):
        super().__init__(tmpdir)
        self.status, self.body, self.delay, self.content_type = status, body, delay, content_type
        self.log_file = os.path.join(self.dir, "requests.jsonl")

    def start(self):
        args = ["--log", self.log_file, "--status", str(self.status)]
        if self.body is not None:
            args += ["--body", self.body]
        if self.delay:
            args += ["--delay", str(self.delay)]
        if self.content_type:
            args += ["--content-type", self.content_type]
        self.spawn_script("http_receiver.py", *args)

    def requests(self):
        """[{"method", "path", "query", "headers" (lower-case names), "body"|"body_b64"}]"""
        return read_jsonl(self.log_file)

    def wait_requests(self, n, timeout=10.0):
        wait_for(lambda: len(self.requests()) >= n, timeout, "%d request(s) at the HTTP receiver" % n)
        return self.requests()


class FakeOci(Service):
    """fake_oci.py serving tags of repo. Flags map to its options, e.g. bearer=True,
    page_size=2, unsorted=True, absolute_links=True, status=503, token_lifetime=1.5."""
    name = "fake-oci"

    def __init__(self, tmpdir, tags, repo="acme/app", **flags):
        super().__init__(tmpdir)
        self.tags = list(tags.split(",") if isinstance(tags, str) else tags)
        self.repo, self.flags = repo, flags
        self.log_file = os.path.join(self.dir, "requests.jsonl")

    def start(self):
        args = ["--repo", self.repo, "--tags", ",".join(self.tags), "--log", self.log_file]
        for key, value in self.flags.items():
            option = "--" + key.replace("_", "-")
            if value is True:
                args.append(option)
            elif value not in (None, False):
                args += [option, str(value)]
        self.spawn_script("fake_oci.py", *args)

    def requests(self):
        """[{"method", "path" (with query), "status", "authorization" (bool), "auth_scheme"}]"""
        return read_jsonl(self.log_file)


class TokenServer(Service):
    """token_server.py with a fresh signing cert (.cert is the registry's rootcertbundle).
    With user set, the token endpoint requires that Basic login."""
    name = "token"

    def __init__(self, tmpdir, user=None, password=None, service="registry.test",
                 issuer="test-issuer", ttl=None):
        super().__init__(tmpdir)
        self.user, self.password = user, password
        self.service, self.issuer, self.ttl = service, issuer, ttl
        self.log_file = os.path.join(self.dir, "requests.jsonl")

    def start(self):
        self.cert, self.key = make_cert(self.dir, "token", cn="test-token-signer")
        args = ["--key", self.key, "--cert", self.cert, "--issuer", self.issuer,
                "--service", self.service, "--log", self.log_file]
        if self.user:
            args += ["--user", self.user, "--password", self.password or ""]
        if self.ttl is not None:
            args += ["--ttl", str(self.ttl)]
        self.spawn_script("token_server.py", *args)

    @property
    def realm(self):
        return self.url + "/token"

    def requests(self):
        """[{"service", "scope" (list), "account", "auth", "user", "status"}]"""
        return read_jsonl(self.log_file)


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: not-a-secret-test-only
  draintimeout: 2s
"""


class DockerRegistry(Service):
    """The real docker-registry 2.8.2 with auth None, 'htpasswd' (user/password default to
    tester/s3cret) or 'token' (a TokenServer; anonymous tokens unless user is given)."""
    name = "registry"

    def __init__(self, tmpdir, auth=None, user=None, password=None):
        super().__init__(tmpdir)
        if auth not in (None, "htpasswd", "token"):
            raise ValueError("auth must be None, 'htpasswd' or 'token'")
        if auth == "htpasswd":
            user, password = user or "tester", password or "s3cret"
        self.auth, self.user, self.password = auth, user, password
        self.token_server = None

    def auth_config(self):
        if self.auth == "htpasswd":
            path = os.path.join(self.dir, "htpasswd")
            with open(path, "wb") as f:  # bcrypt: the only hash the registry accepts
                f.write(subprocess.run(["htpasswd", "-Bbn", self.user, self.password],
                                       check=True, capture_output=True).stdout)
            return "auth:\n  htpasswd:\n    realm: test-registry\n    path: %s\n" % path
        if self.auth == "token":
            t = self.token_server
            return ("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n"
                    "    rootcertbundle: %s\n" % (t.realm, t.service, t.issuer, t.cert))
        return ""

    def start(self):
        if self.auth == "token":
            self.token_server = TokenServer(self.dir, self.user, self.password).__enter__()
        auth = self.auth_config()
        config = os.path.join(self.dir, "registry.yml")
        for attempt in range(5):
            # the registry needs an explicit port: another test may grab it first, so retry
            self.port = free_port()
            with open(config, "w") as f:
                f.write(REGISTRY_CONFIG.format(root=os.path.join(self.dir, "storage"),
                                               port=self.port) + auth)
            self.spawn(["docker-registry", "serve", config])
            try:
                return self.wait_ready(self.answers, "answering GET /v2/")
            except RuntimeError:
                if attempt == 4 or "address already in use" not in self.log_text():
                    raise

    def answers(self):
        try:
            OPENER.open(self.url + "/v2/", timeout=1).close()
        except urllib.error.HTTPError:
            pass  # 401 from an auth-enabled registry also means it is up
        except OSError:
            return False
        return True

    def push(self, repo, *tags):
        """Push one tiny image per tag with registry_push.py; returns {tag: manifest digest}."""
        argv = [PYTHON, os.path.join(HERE, "registry_push.py"), self.url, repo, *tags]
        if self.user:
            argv += ["--user", self.user, "--password", self.password or ""]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if result.returncode:
            raise RuntimeError("push failed: %s%s" % (result.stdout, result.stderr))
        return dict(line.split(" ", 1) for line in result.stdout.splitlines())

    def stop(self):
        super().stop()
        if self.token_server:
            self.token_server.stop()
