"""examples/compose and examples/kubernetes, checked as far as this machine can without
Docker or a cluster: every file parses, every file they name exists, the Kubernetes copies
of the bundled jobs and config have not drifted, the config each one gives passes
`cronhost validate` in the image (the jobs mounted the way the kubelet mounts a ConfigMap),
kustomize renders both variants when kubectl is installed, and the container runs under the
Deployment's constraints (read-only root, non-root, the ConfigMap layout) and answers /health."""
import filecmp
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

import yaml

from test_image import IMAGE, PODMAN, RUN_FLAGS, free_port, podman

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COMPOSE = os.path.join(ROOT, "examples", "compose")
KUBE = os.path.join(ROOT, "examples", "kubernetes")
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def load_all(path):
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def env_file(path):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key] = value
    return values


def kustomization(folder):
    return load_all(os.path.join(KUBE, folder, "kustomization.yaml"))[0]


def generator_files(k, kind):
    """The files a kustomization's generators read, relative to it: [(key, path)]."""
    out = []
    for gen in k.get(kind, []):
        for f in gen.get("files", []):
            key, _, path = f.rpartition("=") if "=" in f else (os.path.basename(f), "", f)
            out.append((key, path))
        out += [(None, e) for e in gen.get("envs", [])]
    return out


def kubelet_configmap_dir(parent, name, files):
    """A folder laid out as the kubelet mounts a ConfigMap: the files in a timestamped hidden
    folder, ..data linking to it, and one link per key through ..data."""
    folder = os.path.join(parent, name)
    stamp = os.path.join(folder, "..2026_12_04_18_00_00.123456789")
    os.makedirs(stamp)
    for key, source in files:
        shutil.copyfile(source, os.path.join(stamp, key))
        os.chmod(os.path.join(stamp, key), 0o644)
        os.symlink(os.path.join("..data", key), os.path.join(folder, key))
    os.symlink(os.path.basename(stamp), os.path.join(folder, "..data"))
    for path in (folder, stamp):
        os.chmod(path, 0o755)
    return folder


class ComposeExampleTest(unittest.TestCase):
    def test_compose_file_names_existing_files_and_rotates_logs(self):
        compose = load_all(os.path.join(COMPOSE, "compose.yaml"))[0]
        cronhost = compose["services"]["cronhost"]
        for volume in cronhost["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                self.assertTrue(os.path.exists(os.path.join(COMPOSE, source)), volume)
        self.assertTrue(os.path.isfile(os.path.join(COMPOSE, cronhost["build"]["context"], "Dockerfile")))
        for service in compose["services"].values():
            self.assertEqual(service["logging"]["driver"], "json-file")
            self.assertIn("max-size", service["logging"]["options"])
            self.assertIn("max-file", service["logging"]["options"])
        self.assertIn("/health", " ".join(cronhost["healthcheck"]["test"]))
        # Every secret cronhost.yaml reads from the environment has a line in .env.example.
        example = env_file(os.path.join(COMPOSE, ".env.example"))
        with open(os.path.join(ROOT, "cronhost.yaml")) as f:
            secrets = set(re.findall(r"\$\{env:([A-Z_]+)", f.read()))
        self.assertEqual(secrets - set(example), set())


@unittest.skipIf(shutil.which("podman-compose") is None, "podman-compose is not installed: run `make image-deps`")
class ComposeUpTest(unittest.TestCase):
    """examples/compose brought up by Debian's podman-compose on the image under test: the
    bundled jobs run, the dashboard port answers, the health check passes, down stops it."""

    def test_up_trigger_down(self):
        folder = tempfile.mkdtemp(prefix="cronhost-compose-")
        self.addCleanup(shutil.rmtree, folder, True)
        conf = os.path.join(folder, "containers.conf")
        with open(conf, "w") as f:  # what RUN_FLAGS give podman run: runc and explicit ulimits
            f.write('[engine]\nruntime = "runc"\n[containers]\n'
                    'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n')
        token = "compose-test-token-0123456789"
        with open(os.path.join(COMPOSE, ".env.example")) as f:
            env_text = f.read().replace("CRONHOST_ADMIN_TOKEN=\n", f"CRONHOST_ADMIN_TOKEN={token}\n")
        dotenv = os.path.join(COMPOSE, ".env")
        self.assertFalse(os.path.exists(dotenv), f"{dotenv} exists: the test would overwrite it")
        with open(dotenv, "w") as f:
            f.write(env_text)
        self.addCleanup(os.remove, dotenv)
        port = free_port()
        project = f"cronhost-test-{os.getpid()}"
        env = {**os.environ, "CONTAINERS_CONF": conf, "CRONHOST_IMAGE": IMAGE, "CRONHOST_PORT": str(port)}
        compose = ["podman-compose", "-p", project, "-f", os.path.join(COMPOSE, "compose.yaml")]

        def down():
            # The stand-in app runs the cronhost image without mounting its VOLUMEs: -v drops
            # the anonymous volumes that leaves (podman-compose down keeps them).
            podman("rm", "-f", "-v", "-t", "0", f"{project}_app_1", f"{project}_cronhost_1", check=False)
            subprocess.run(compose + ["down"], env=env, capture_output=True, timeout=120)
            for volume in ("app-data", "cronhost-state", "backups"):
                podman("volume", "rm", "-f", f"{project}_{volume}", check=False)
            podman("network", "rm", f"{project}_default", check=False)
        self.addCleanup(down)
        up = subprocess.run(compose + ["up", "-d", "--no-build"], env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(up.returncode, 0, up.stdout[-3000:] + up.stderr[-3000:])
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with OPENER.open(base + "/health", timeout=5) as response:
                    self.assertIn('"jobs":7', response.read().decode())
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.fail(podman("logs", f"{project}_cronhost_1", check=False).stderr[-3000:])
                time.sleep(0.2)
        self.assertEqual(podman("healthcheck", "run", f"{project}_cronhost_1", check=False).returncode, 0)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        request = urllib.request.Request(base + "/api/jobs/heartbeat/trigger", data=b"{}", headers=headers)
        with OPENER.open(request, timeout=10) as response:
            run_id = json.loads(response.read())["run_id"]
        deadline = time.monotonic() + 20
        while True:
            with OPENER.open(urllib.request.Request(f"{base}/api/runs/{run_id}", headers=headers), timeout=10) as r:
                run = json.loads(r.read())
            if run["status"] != "running" and run["status"] != "queued" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(run["status"], "succeeded", run)
        # The app's data volume is shared, seeded by the image with the cronhost user as owner.
        owner = podman("exec", f"{project}_cronhost_1", "stat", "-c", "%u", "/var/lib/app").stdout.strip()
        self.assertEqual(owner, "10001")


class KubernetesExampleTest(unittest.TestCase):
    def test_every_file_parses_and_every_named_file_exists(self):
        for folder in ("base", "postgresql"):
            k = kustomization(folder)
            named = list(k.get("resources", [])) + [p["path"] for p in k.get("patches", [])]
            named += [path for _, path in generator_files(k, "configMapGenerator")]
            named += [path for _, path in generator_files(k, "secretGenerator")]
            for path in named:
                full = os.path.join(KUBE, folder, path)
                self.assertTrue(os.path.exists(full), f"{folder}/kustomization.yaml names {path}: missing")
                if full.endswith(".yaml") and os.path.isfile(full):
                    self.assertTrue(load_all(full), f"{full}: empty")

    def test_the_copies_of_the_bundled_jobs_and_config_have_not_drifted(self):
        k = kustomization("base")
        jobs = sorted(os.path.basename(p) for _, p in generator_files(k, "configMapGenerator") if p.startswith("jobs.d/"))
        self.assertEqual(jobs, sorted(f for f in os.listdir(os.path.join(ROOT, "jobs.d")) if f.endswith(".yaml")))
        for name in jobs:
            self.assertTrue(filecmp.cmp(os.path.join(ROOT, "jobs.d", name), os.path.join(KUBE, "base", "jobs.d", name),
                                        shallow=False), f"examples/kubernetes/base/jobs.d/{name} differs from jobs.d/{name}")
        self.assertTrue(filecmp.cmp(os.path.join(ROOT, "cronhost.yaml"), os.path.join(KUBE, "base", "cronhost.yaml"),
                                    shallow=False), "examples/kubernetes/base/cronhost.yaml differs from cronhost.yaml")

    def test_every_variable_without_a_fallback_is_set_by_the_deployment(self):
        literals = {}
        for folder in ("base", "postgresql"):
            for gen in kustomization(folder).get("configMapGenerator", []):
                literals.update(dict(l.split("=", 1) for l in gen.get("literals", [])))
        secrets = {**env_file(os.path.join(KUBE, "base", "secrets.env")),
                   **env_file(os.path.join(KUBE, "postgresql", "secrets.env"))}
        for config in ("base/cronhost.yaml", "postgresql/cronhost.yaml"):
            with open(os.path.join(KUBE, config)) as f:
                needed = set(re.findall(r"\$\{(?:var|env):([A-Z_]+)\}", f.read()))
            self.assertEqual(needed - set(literals) - set(secrets), set(), config)

    @unittest.skipIf(shutil.which("kubectl") is None, "kubectl (with kustomize) is not installed")
    def test_kustomize_renders_both_variants(self):
        for folder, replicas in (("base", 1), ("postgresql", 3)):
            done = subprocess.run(["kubectl", "kustomize", os.path.join(KUBE, folder)], capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)
            docs = {(d["kind"], d["metadata"]["name"].rsplit("-", 1)[0] if d["kind"] in ("ConfigMap", "Secret")
                     else d["metadata"]["name"]): d for d in yaml.safe_load_all(done.stdout)}
            deployment = docs[("Deployment", "cronhost")]
            self.assertEqual(deployment["spec"]["replicas"], replicas)
            pod = deployment["spec"]["template"]["spec"]
            container = pod["containers"][0]
            self.assertEqual(container["livenessProbe"]["httpGet"]["path"], "/health")
            self.assertEqual(container["readinessProbe"]["httpGet"]["path"], "/health")
            self.assertTrue(pod["securityContext"]["runAsNonRoot"])
            # Generated names (with the content hash) are what the pod refers to: an edit rolls it.
            for volume in pod["volumes"]:
                if "configMap" in volume:
                    self.assertIn(("ConfigMap", volume["configMap"]["name"].rsplit("-", 1)[0]), docs)
                    self.assertRegex(volume["configMap"]["name"], r"-[a-z0-9]{10}$")
            if folder == "postgresql":
                self.assertNotIn("persistentVolumeClaim", str(pod["volumes"]))
                self.assertNotIn("args", container)  # the image's `run`: state from cronhost.yaml


@unittest.skipIf(shutil.which("podman") is None, "podman is not installed: run `make image-deps`")
class KubernetesConfigInTheImageTest(unittest.TestCase):
    """The ConfigMaps' contents in the image's own cronhost, mounted as the kubelet mounts them."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cronhost-kube-")
        os.chmod(self.dir, 0o755)
        base = os.path.join(KUBE, "base")
        k = kustomization("base")
        jobs = [(key, os.path.join(base, path)) for key, path in generator_files(k, "configMapGenerator")
                if path.startswith("jobs.d/")]
        self.jobs = kubelet_configmap_dir(self.dir, "jobs", jobs)
        self.env = {}
        for gen in k["configMapGenerator"]:
            self.env.update(dict(l.split("=", 1) for l in gen.get("literals", [])))
        self.env.update(env_file(os.path.join(base, "secrets.env")))
        self.env["CRONHOST_ADMIN_TOKEN"] = "a-test-token-of-32-characters-xx"
        self.addCleanup(shutil.rmtree, self.dir, True)

    def env_flags(self, env):
        return [flag for key, value in env.items() for flag in ("-e", f"{key}={value}")]

    def mounts(self, folder):
        return ["-v", f"{os.path.join(KUBE, folder, 'cronhost.yaml')}:/etc/cronhost/cronhost.yaml:ro",
                "-v", f"{self.jobs}:/etc/cronhost/jobs.d:ro"]

    def test_both_configs_pass_validate(self):
        for folder, extra in (("base", {}), ("postgresql", {"CRONHOST_STATE_URL": "postgresql://cronhost@db:5432/x",
                                                           "CRONHOST_STATE_PASSWORD": "x"})):
            done = podman("run", "--rm", *RUN_FLAGS, *self.env_flags({**self.env, **extra}), *self.mounts(folder),
                          IMAGE, "validate", "--config", "/etc/cronhost/cronhost.yaml", "--jobs", "/etc/cronhost/jobs.d",
                          check=False)
            self.assertEqual(done.returncode, 0, f"{folder}: {done.stdout}{done.stderr}")
            self.assertIn("7 jobs OK", done.stdout)

    def test_the_deployment_s_container_runs_read_only_and_answers_health(self):
        port = free_port()
        name = f"cronhost-kube-{os.getpid()}"
        state = os.path.join(self.dir, "state")
        os.makedirs(state)
        os.chown(state, 10001, 10001)  # fsGroup's job in Kubernetes
        env = {**self.env, "CRONHOST_LISTEN": f"127.0.0.1:{port}"}
        podman("run", "-d", "--name", name, *RUN_FLAGS, "--read-only", "--user", "10001:10001",
               "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
               "--tmpfs", "/tmp", "--tmpfs", "/var/backups/app", *self.env_flags(env), *self.mounts("base"),
               "-v", f"{state}:/var/lib/cronhost", IMAGE)
        self.addCleanup(podman, "rm", "-f", "-v", "-t", "0", name, check=False)
        deadline = time.monotonic() + 30
        while True:
            try:
                with OPENER.open(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    body = response.read().decode()
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.fail(podman("logs", name, check=False).stderr[-3000:])
                time.sleep(0.1)
        self.assertIn('"jobs":7', body.replace(" ", ""))
        podman("stop", "-t", "10", name)
        self.assertEqual(podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip(), "0")


if __name__ == "__main__":
    unittest.main()
