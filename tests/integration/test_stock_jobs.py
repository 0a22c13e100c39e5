"""The bundled jobs.d/ and scripts/ end to end through the real daemon, against a real SMTP
server, Debian's docker-registry and a loopback deploy webhook: the seed team's nightly
backup, twice-daily version check with approvals, execution of approved updates."""
import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import unittest

from api_site import ApiSite, SiteTestCase, services, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import dbserver  # noqa: E402
import storage_servers  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TAGS = ["0.1.2", "0.1.3", "0.1.5", "0.2.0-rc.1", "latest", "sha-abc"]


def soon(seconds=2):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


class StockJobsTest(SiteTestCase):
    def setUp(self):
        super().setUp()
        self.env(APP_VERSION="0.1.2", UPDATE_NOTIFICATION_EMAIL="staff@acme.test", BACKUP_EMAIL_TO="backups@acme.test")

    def env(self, **values):
        """Sets environment variables for the daemon and the command line until the test ends."""
        for name, value in values.items():
            self.addCleanup(lambda n=name, old=os.environ.get(name): os.environ.pop(n, None) if old is None
                            else os.environ.__setitem__(n, old))
            os.environ[name] = value

    def make_site(self, jobs, config=""):
        """A site with the bundled scripts and the named bundled jobs, the mail going to a sink."""
        self.site = ApiSite()
        self.smtp = self.serve(services.SmtpSink(self.site.tmp))
        self.site.write("cronhost.yaml", "workers: 2\nshutdown_grace: 2s\n"
                        f"smtp: {{host: 127.0.0.1, port: {self.smtp.port}, tls: none, from: 'Scheduler <cron@acme.test>'}}\n"
                        + config)
        shutil.copytree(os.path.join(REPO, "scripts"), os.path.join(self.site.root, "scripts"), dirs_exist_ok=True)
        for name in jobs:
            with open(os.path.join(REPO, "jobs.d", name + ".yaml")) as f:
                self.site.write(f"jobs.d/{name}.yaml", f.read())
        return self.site

    def patch(self, job, old, new):
        path = os.path.join(self.site.root, "jobs.d", job + ".yaml")
        with open(path) as f:
            text = f.read()
        patched = re.sub(old, new, text, flags=re.M)
        self.assertNotEqual(text, patched, f"{old!r} not found in {job}.yaml")
        self.site.write(f"jobs.d/{job}.yaml", patched)

    def subjects(self):
        return [m.message["Subject"] for m in self.smtp.messages()]

    def approvals(self):
        return self.site.query("SELECT * FROM approvals ORDER BY id")

    def cli(self, *args):
        p = self.site.cli(*args, "--state", self.site.state, "--config", os.path.join(self.site.root, "cronhost.yaml"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout

    # --- updates
    def update_site(self, tags=TAGS, webhook_status=200, image="acme/app"):
        registry = self.serve(services.DockerRegistry(self.site_tmp(), auth="htpasswd"))
        registry.push("acme/app", *tags)
        self.registry = registry
        body = '{"deployed":true}' if webhook_status == 200 else '{"error":"pull failed"}'
        self.webhook = self.serve(services.HttpReceiver(self.site_tmp(), status=webhook_status, body=body))
        host = registry.url.split("//")[1]
        site = self.make_site(["version-check", "execute-updates", "update-approved-notice"],
                              f"registries:\n  '{host}': {{url: '{registry.url}', user: tester, password: s3cret}}\n")
        self.servers.insert(0, self.servers.pop())  # the sink made by make_site stops last
        # Pointed at the test's servers from the environment alone: params and allowlists follow.
        self.env(APP_IMAGE=f"{host}/{image}", DEPLOY_WEBHOOK_URL=f"{self.webhook.url}/hooks/deploy")
        self.patch("version-check", r'^  cron: .*$', "  every: 2s")
        self.patch("execute-updates", r'^  cron: .*$', "  every: 2s")
        return site

    def site_tmp(self):
        if not hasattr(self, "_tmp"):
            self._tmp = services.tempfile.mkdtemp(prefix="stock-servers-")
        return self._tmp

    def test_update_found_approved_executed_once(self):
        site = self.update_site()
        site.start()
        wait_for(lambda: len([r for r in site.runs("version-check") if r["status"] == "succeeded"]) >= 2,
                 what="two version checks")
        [pending] = self.approvals()
        self.assertEqual((pending["kind"], pending["key"], pending["status"]), ("update", "0.1.5", "PENDING"))
        self.assertEqual(self.subjects(), [f"Update available: {self.site_host()}/acme/app 0.1.5"])
        self.assertEqual(self.webhook.requests(), [])  # nothing runs before a person says yes

        self.assertIn("approved", self.cli("approvals", "approve", str(pending["id"]), "--by", "alice", "--note", "go"))
        self.smtp.wait_messages(3, timeout=15)
        wait_for(lambda: self.approvals()[0]["status"] == "EXECUTED", timeout=15, what="EXECUTED")
        time.sleep(4.5)  # two more checks and executions: nothing new may happen
        site.stop()

        [post] = [r for r in self.webhook.requests() if r["method"] == "POST"]
        self.assertEqual(post["path"], "/hooks/deploy")
        self.assertIn('"from":"0.1.2"', post["body"])
        self.assertIn('"to":"0.1.5"', post["body"])
        [approval] = self.approvals()
        self.assertEqual(approval["decided_by"], "alice")
        self.assertIn('webhook 200: {"deployed":true}', approval["notes"])
        subjects = self.subjects()
        self.assertEqual(len(subjects), 3, subjects)
        self.assertEqual(subjects[1:], ["Update to 0.1.5 approved", "Update to 0.1.5 executed"])
        confirmation = self.smtp.messages()[1].message
        self.assertEqual(confirmation["To"], "staff@acme.test")
        self.assertIn("Approved by:     alice", confirmation.get_body(("plain",)).get_content())
        notice = site.runs("update-approved-notice")
        self.assertEqual([(r["trigger"], r["status"]) for r in notice], [("event", "succeeded")])

    def test_cancelled_update_is_detected_again(self):
        site = self.update_site()
        site.start()
        wait_for(lambda: self.approvals(), what="the first approval")
        first = self.approvals()[0]
        self.assertIn("cancelled", self.cli("approvals", "cancel", str(first["id"]), "--by", "bob"))
        wait_for(lambda: [a for a in self.approvals() if a["id"] != first["id"]], timeout=10, what="a new approval")
        site.stop()
        [again] = self.approvals()
        self.assertEqual((again["key"], again["status"]), ("0.1.5", "PENDING"))
        self.assertEqual([s for s in self.subjects() if s.startswith("Update available")].__len__(), 2)
        self.assertEqual(self.webhook.requests(), [])

    def test_two_approved_versions_deploy_only_the_newest(self):
        site = self.update_site(tags=["0.1.2", "0.1.6"])
        site.start()
        wait_for(lambda: [a for a in self.approvals() if a["key"] == "0.1.6"], what="the 0.1.6 approval")
        self.registry.push("acme/app", "0.1.8")
        wait_for(lambda: [a for a in self.approvals() if a["key"] == "0.1.8"], timeout=15, what="the 0.1.8 approval")
        site.stop()
        old, new = self.approvals()
        # Both approved before execute-updates runs: 0.1.6 first, then 0.1.8 (from the command line).
        self.cli("approvals", "approve", str(old["id"]), "--by", "alice")
        out = self.cli("approvals", "approve", str(new["id"]), "--by", "bob")
        self.assertIn(f"superseded {old['id']} (update 0.1.6)", out)
        site.start()
        wait_for(lambda: self.approvals()[1]["status"] == "EXECUTED", timeout=15, what="0.1.8 EXECUTED")
        time.sleep(4.5)  # two more checks and executions: nothing new may happen
        site.stop()

        [post] = [r for r in self.webhook.requests() if r["method"] == "POST"]
        self.assertIn('"to":"0.1.8"', post["body"])
        old, new = self.approvals()  # no third: the check is answered by the executed 0.1.8
        self.assertEqual((old["key"], old["status"], old["superseded_by"]), ("0.1.6", "SUPERSEDED", new["id"]))
        self.assertIsNone(old["executed_at"])
        self.assertIsNotNone(old["closed_at"])
        self.assertEqual((new["key"], new["status"], new["group_key"]), ("0.1.8", "EXECUTED", f"{self.site_host()}/acme/app"))
        subjects = self.subjects()
        self.assertIn("Update to 0.1.8 executed", subjects)
        self.assertNotIn("Update to 0.1.6 executed", subjects)
        # The command line's decisions are in the audit log, under the local account.
        audit = site.query("SELECT actor, action, target, detail FROM audit_log ORDER BY id")
        self.assertEqual([(a["action"], a["target"]) for a in audit],
                         [("approval.approve", str(old["id"])), ("approval.approve", str(new["id"]))])
        self.assertTrue(all(a["actor"].startswith("cli:") for a in audit), audit)
        self.assertEqual([json.loads(a["detail"])["by"] for a in audit], ["alice", "bob"])
        # Approving the older one again is refused, naming why.
        p = self.site.cli("approvals", "approve", str(old["id"]), "--by", "carol", "--state", site.state,
                          "--config", os.path.join(site.root, "cronhost.yaml"))
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(f"approval {old['id']} is SUPERSEDED; only a PENDING approval can be approved", p.stderr)

    def test_failed_deploy_fails_the_run_and_the_approval(self):
        site = self.update_site(webhook_status=500)
        site.start()
        wait_for(lambda: self.approvals(), what="the approval")
        [pending] = self.approvals()
        self.cli("approvals", "approve", str(pending["id"]), "--by", "alice")
        wait_for(lambda: [r for r in site.runs("execute-updates") if r["status"] == "failed"], timeout=15,
                 what="a failed execute-updates run")
        self.smtp.wait_messages(3, timeout=15)
        site.stop()
        [failed] = [r for r in site.runs("execute-updates") if r["status"] == "failed"]
        self.assertIn(f"approval {pending['id']} (0.1.5): the webhook answered 500", failed["error"])
        [state] = site.query("SELECT failures FROM job_state WHERE job = 'execute-updates'")
        self.assertEqual(state["failures"], 1)  # what metrics and the weekly summary count
        # (a check after the failure may ask for 0.1.5 again: a failure is no answer)
        [approval] = [a for a in self.approvals() if a["id"] == pending["id"]]
        self.assertEqual(approval["status"], "FAILED")
        self.assertIsNone(approval["executed_at"])
        self.assertIsNotNone(approval["closed_at"])
        self.assertIn("the webhook answered 500", approval["notes"])
        self.assertIn("Update to 0.1.5 FAILED", self.subjects())

    def test_registry_failure_alerts_after_the_last_attempt(self):
        site = self.update_site(image="acme/missing")
        self.patch("version-check", r"^retries: .*$", "retries: {attempts: 2, backoff: 1s}")
        self.patch("version-check", r"^  every: 2s$", f"  at: '{soon()}'")
        site.start()
        runs = site.wait_run("version-check", 2, timeout=20)
        # notify: in the job file mails staff once, after the last attempt, through the outbox.
        wait_for(lambda: self.smtp.messages(), what="the failure mail")
        site.stop()
        self.assertEqual([r["status"] for r in runs], ["failed", "failed"])
        self.assertIn("/acme/missing not found (404", runs[1]["error"])
        self.assertEqual(len(self.subjects()), 1)
        self.assertRegex(self.subjects()[0], r"^\[cronhost\] version-check failed on .* after 2 attempts: .*not found")

    def site_host(self):
        with open(os.path.join(self.site.root, "cronhost.yaml")) as f:
            return re.search(r"registries:\n  '([^']+)'", f.read()).group(1)

    def test_dry_run_of_the_check_captures_the_approval_and_the_mail(self):
        self.update_site()
        out = self.site.dry_run("version-check")
        self.assertEqual(out["status"], "succeeded", out)
        self.assertEqual([e["kind"] for e in out["effects"]], ["approvals", "mail"])
        self.assertIn('request update/0.1.5', out["effects"][0]["summary"])
        self.assertEqual(out["effects"][1]["summary"],
                         f'to staff@acme.test: "Update available: {self.site_host()}/acme/app 0.1.5"')
        self.assertFalse(os.path.exists(self.site.state), "a dry run keeps nothing")
        self.assertEqual(self.smtp.messages(), [])
        text = self.site.cli("dry-run", "version-check", "--jobs", os.path.join(self.site.root, "jobs.d"),
                             "--config", os.path.join(self.site.root, "cronhost.yaml")).stdout
        self.assertIn("--- effects (2, captured, not performed)", text)
        self.assertIn("          From: Scheduler <cron@acme.test>\n          To: staff@acme.test\n", text)
        self.assertIn("          | A newer version of", text)
        offline = self.site.dry_run("version-check", "--offline")
        self.assertEqual(offline["status"], "failed")
        self.assertIn("not read (offline dry run)", offline["error"])

    # --- backups and maintenance
    def backup_site(self, rows=50):
        site = self.make_site(["nightly-backup", "session-cleanup", "weekly-summary"],
                              "databases:\n  app: {sqlite: app.db}\n")
        self.db_path = os.path.join(site.root, "app.db")
        db = sqlite3.connect(self.db_path)
        db.executescript("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
                         "CREATE TABLE sessions (id INTEGER PRIMARY KEY, expires_at INTEGER);")
        db.executemany("INSERT INTO users (name) VALUES (?)", [(f"user {i}",) for i in range(rows)])
        now = int(time.time())
        db.executemany("INSERT INTO sessions (expires_at) VALUES (?)", [(now - 100,)] * 7 + [(now + 3600,)] * 3)
        db.commit()
        db.close()
        self.backups = os.path.join(site.root, "backups")
        os.makedirs(self.backups)
        self.env(BACKUP_DIR=self.backups)
        self.patch("nightly-backup", r'^  cron: .*$', f"  at: '{soon()}'")
        self.patch("nightly-backup", r"^retries: .*$", "retries: {attempts: 2, backoff: 1s}")
        return site

    def test_backup_is_a_valid_copy_mailed_and_old_ones_pruned(self):
        site = self.backup_site()
        old = os.path.join(self.backups, "app-20200101T020000Z.db.gz")
        recent = os.path.join(self.backups, "app-recent.db.gz")
        for path, age_days in ((old, 40), (recent, 5)):
            with open(path, "wb") as f:
                f.write(gzip.compress(b"old"))
            t = time.time() - age_days * 86400
            os.utime(path, (t, t))
        site.start()
        [run] = site.wait_run("nightly-backup")
        site.stop()
        self.assertEqual(run["status"], "succeeded", run)
        made = [n for n in os.listdir(self.backups) if re.fullmatch(r"app-\d{8}T\d{6}Z\.db\.gz", n)]
        self.assertEqual(len(made), 1)
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(recent))
        with open(os.path.join(self.backups, made[0]), "rb") as f:
            packed = f.read()
        copy = os.path.join(site.root, "copy.db")
        with open(copy, "wb") as f:
            f.write(gzip.decompress(packed))
        db = sqlite3.connect(copy)
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(db.execute("SELECT count(*) FROM users").fetchone()[0], 50)
        self.assertEqual(db.execute("SELECT count(*) FROM sessions").fetchone()[0], 10)
        db.close()
        [mail] = self.smtp.wait_messages(1)
        self.assertEqual(mail.envelope["rcpt_tos"], ["backups@acme.test"])
        self.assertTrue(mail.message["Subject"].startswith("Backup of app succeeded"))
        text = mail.message.get_body(("plain",)).get_content()
        self.assertIn("File:            " + os.path.join(self.backups, made[0]), text)
        self.assertIn("Rows in users:   50", text)
        self.assertIn("Old backups removed: 1", text)
        [attachment] = list(mail.message.iter_attachments())
        self.assertEqual((attachment.get_filename(), attachment.get_content_type()), (made[0], "application/gzip"))
        self.assertEqual(attachment.get_content(), packed)

    def test_dry_run_of_the_backup_captures_every_effect(self):
        site = self.backup_site()
        out = site.dry_run("nightly-backup")
        self.assertEqual(out["status"], "succeeded", out)
        kinds = [e["kind"] for e in out["effects"]]
        self.assertEqual(kinds, ["db", "files", "mail"])
        self.assertRegex(out["effects"][0]["summary"], r"^app: backup -> .*/backups/app-\d{8}T\d{6}Z\.db \(\d+ pages, \d+ bytes\)$")
        self.assertRegex(out["effects"][1]["summary"], r"^gzip .*\.db -> .*\.db\.gz \(source removed\), about \d+ bytes "
                                                       r"\(an estimate: a dry run compresses nothing\)$")
        # The size a dry run reports is a guess, and the mail and the log say so.
        self.assertRegex(out["effects"][2]["summary"], r'^to backups@acme.test: "Backup of app succeeded \(about [0-9.]+ [A-Za-z]+ '
                                                       r'\(estimated in a dry run\)\)"; attached app-.*\.db\.gz')
        self.assertRegex(out["output"], r"backed up app \(sqlite\) to .*\.db\.gz \(about [0-9.]+ [A-Za-z]+ \(estimated in a dry run\)\)")
        self.assertEqual(os.listdir(self.backups), [])
        self.assertEqual(self.smtp.messages(), [])

    def test_backup_of_a_missing_database_fails_cleanly_with_a_failure_mail(self):
        site = self.backup_site()
        os.remove(self.db_path)
        site.start()
        runs = site.wait_run("nightly-backup", 2, timeout=20)
        site.stop()
        self.assertEqual([r["status"] for r in runs], ["failed", "failed"])
        self.assertIn("backup of app failed: ", runs[1]["error"])
        self.assertIn("does not exist", runs[1]["error"])
        self.assertEqual(self.subjects(), ["Backup of app FAILED"])
        self.assertEqual(os.listdir(self.backups), [])

    def test_backup_of_a_locked_database_fails_cleanly(self):
        site = self.backup_site()
        self.patch("nightly-backup", r"^  busy_timeout: .*$", "  busy_timeout: 0.5")
        holder = sqlite3.connect(self.db_path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            site.start()
            runs = site.wait_run("nightly-backup", 2, timeout=20)
            site.stop()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        self.assertEqual([r["status"] for r in runs], ["failed", "failed"])
        self.assertIn("locked", runs[1]["error"])
        self.assertEqual(self.subjects(), ["Backup of app FAILED"])
        self.assertEqual([n for n in os.listdir(self.backups)], [])

    def server_backup_site(self, kind):
        """nightly-backup on `app` served by a real PostgreSQL or MariaDB, its password from the
        environment; three tables the app user owns, one holding 120 rows."""
        server = dbserver.DbServer(kind)
        self.addCleanup(server.stop)
        server.app_sql(["CREATE TABLE users (id int PRIMARY KEY, name text)",
                        "CREATE TABLE orders (id int, amount decimal(10,2))",
                        "CREATE TABLE empty_one (id int)"])
        server.app_sql("INSERT INTO orders VALUES " + ", ".join(f"({i}, {i}.25)" for i in range(120)))
        server.app_sql("INSERT INTO users VALUES (1, 'ann'), (2, 'bob')")
        scheme = "postgresql" if kind == "postgres" else "mysql"
        site = self.make_site(["nightly-backup"], "databases:\n"
                              f"  app: {{{scheme}: '{server.url()}', password: '${{env:APP_DB_PASSWORD}}', "
                              "tls: {mode: disable}}\n")
        self.env(APP_DB_PASSWORD=server.password)
        self.backups = os.path.join(site.root, "backups")
        os.makedirs(self.backups)
        self.env(BACKUP_DIR=self.backups)
        self.patch("nightly-backup", r'^  cron: .*$', f"  at: '{soon()}'")
        self.patch("nightly-backup", r"^retries: .*$", "retries: {attempts: 1}")
        return site, server

    def check_server_backup(self, kind, engine, restore_argv):
        site, server = self.server_backup_site(kind)
        site.start()
        [run] = site.wait_run("nightly-backup", timeout=30)
        site.stop()
        self.assertEqual(run["status"], "succeeded", run)
        made = [n for n in os.listdir(self.backups) if re.fullmatch(r"app-\d{8}T\d{6}Z\.sql\.gz", n)]
        self.assertEqual(len(made), 1, os.listdir(self.backups))
        with open(os.path.join(self.backups, made[0]), "rb") as f:
            packed = f.read()
        # Restored into a fresh database by the engine's own client: the same rows.
        server.sql("CREATE DATABASE restored")
        argv, env = dbserver.client_command(server.info, "SELECT 1", database="restored")
        restore = subprocess.run(restore_argv(argv), env=env, input=gzip.decompress(packed), capture_output=True,
                                 timeout=60)
        self.assertEqual(restore.returncode, 0, restore.stderr)
        self.assertEqual(server.sql("SELECT count(*) FROM orders", database="restored"), [("120",)])
        self.assertEqual(server.sql("SELECT count(*) FROM users", database="restored"), [("2",)])
        [mail] = self.smtp.wait_messages(1)
        self.assertTrue(mail.message["Subject"].startswith("Backup of app succeeded"))
        text = mail.message.get_body(("plain",)).get_content()
        self.assertIn("Engine:          " + engine, text)
        self.assertIn("File:            " + os.path.join(self.backups, made[0]), text)
        self.assertIn("Tables:          3", text)
        self.assertRegex(text, r"Duration:        \d+ s \(dump \d+\.\d s\)")
        # Every table's count, exactly as the report lays it out (the rows were counted, not skipped).
        self.assertEqual([line for line in text.splitlines() if line.startswith("Rows")],
                         ["Rows in empty_one: 0", "Rows in orders:  120", "Rows in users:   2"])
        self.assertNotIn(server.password, text)
        [attachment] = list(mail.message.iter_attachments())
        self.assertEqual(attachment.get_content(), packed)

    def test_backup_of_postgresql_by_pg_dump_restores_with_psql(self):
        # psql's argv without its -c statement: the dump comes on stdin.
        self.check_server_backup("postgres", "postgresql", lambda argv: argv[:-2])

    def test_backup_of_mariadb_by_mariadb_dump_restores_with_mariadb(self):
        self.check_server_backup("mariadb", "mysql", lambda argv: argv[:-2])

    def offsite_backup_site(self, kind, store):
        """server_backup_site uploading to `store` (a started s3rver or Azurite) as `offsite`,
        prefix app/, the report going to the system_admin staff the app's own table lists."""
        site, server = self.server_backup_site(kind)
        server.app_sql(["CREATE TABLE staff (email varchar(100), role varchar(20))",
                        "INSERT INTO staff VALUES ('ops@acme.test', 'system_admin'), ('dev@acme.test', 'developer'), "
                        "('cto@acme.test', 'system_admin')"])
        fragment, env = store.host_config()
        with open(os.path.join(site.root, "cronhost.yaml"), "a") as f:
            f.write("storage:\n  offsite: " + json.dumps(fragment) + "\n")
        self.env(**env, BACKUP_STORE="offsite", BACKUP_STORE_PREFIX="app/",
                 BACKUP_RECIPIENTS_QUERY="SELECT email FROM staff WHERE role = 'system_admin' ORDER BY email")
        return site, server

    def check_offsite_backup(self, kind, store, read, keys, age_object=None):
        site, server = self.offsite_backup_site(kind, store)
        if age_object:  # an upload of 40 days ago, which the run prunes, and one of 5 days ago, kept
            for name, days in (("app/app-20200101T020000Z.sql.gz", 40), ("app/app-recent.sql.gz", 5)):
                storage_servers.s3_put(store, name, gzip.compress(b"old"))
                age_object(name, days)
        site.start()
        [run] = site.wait_run("nightly-backup", timeout=60)
        site.stop()
        self.assertEqual(run["status"], "succeeded", run)
        [made] = [n for n in os.listdir(self.backups) if re.fullmatch(r"app-\d{8}T\d{6}Z\.sql\.gz", n)]
        expected = ["app/" + made] + (["app/app-recent.sql.gz"] if age_object else [])
        self.assertEqual(sorted(keys("app/")), sorted(expected))
        # Restored from the copy downloaded from the store, by the engine's own client: the same rows.
        packed = read("app/" + made)
        with open(os.path.join(self.backups, made), "rb") as f:
            self.assertTrue(packed == f.read(), "the stored copy differs from the local one")
        server.sql("CREATE DATABASE restored")
        argv, env = dbserver.client_command(server.info, "SELECT 1", database="restored")
        restore = subprocess.run(argv[:-2], env=env, input=gzip.decompress(packed), capture_output=True, timeout=60)
        self.assertEqual(restore.returncode, 0, restore.stderr)
        self.assertEqual(server.sql("SELECT count(*) FROM orders", database="restored"), [("120",)])
        self.assertEqual(server.sql("SELECT count(*) FROM users", database="restored"), [("2",)])
        [mail] = self.smtp.wait_messages(1)
        self.assertEqual(mail.envelope["rcpt_tos"], ["cto@acme.test", "ops@acme.test"])
        text = mail.message.get_body(("plain",)).get_content()
        self.assertIn(f"Backup id:       {run['id']}", text)
        self.assertIn(f"Uploaded to:     offsite:app/{made}", text)
        self.assertIn(f"Remote removed:  {1 if age_object else 0}", text)
        self.assertIn("Rows in orders:  120", text)
        for secret in store.host_config()[1].values():
            self.assertNotIn(secret, text + site.log_text())

    def test_backup_of_postgresql_uploaded_to_azure_blob_storage(self):
        store = storage_servers.AzuriteServer("backups").start()
        self.addCleanup(store.stop)
        self.check_offsite_backup("postgres", store, lambda key: storage_servers.azure_get(store, key),
                                  lambda prefix: [k for k, _ in storage_servers.azure_list(store, prefix)])

    def test_backup_of_mariadb_uploaded_to_s3_and_old_uploads_pruned(self):
        store = storage_servers.S3Server("backups").start()
        self.addCleanup(store.stop)

        def age(key, days):  # s3rver reports an object's file time as its Last-Modified
            t = time.time() - days * 86400
            os.utime(os.path.join(store.data, store.bucket, key + "._S3rver_object"), (t, t))

        self.check_offsite_backup("mariadb", store, lambda key: storage_servers.s3_get(store, key),
                                  lambda prefix: [k for k, _ in storage_servers.s3_list(store, prefix)], age_object=age)

    def test_backup_of_sqlite_uploaded_to_s3(self):
        store = storage_servers.S3Server("backups").start()
        self.addCleanup(store.stop)
        site = self.backup_site()
        fragment, env = store.host_config()
        with open(os.path.join(site.root, "cronhost.yaml"), "a") as f:
            f.write("storage:\n  offsite: " + json.dumps(fragment) + "\n")
        self.env(**env, BACKUP_STORE="offsite")
        site.start()
        [run] = site.wait_run("nightly-backup", timeout=60)
        site.stop()
        self.assertEqual(run["status"], "succeeded", run)
        [made] = [n for n in os.listdir(self.backups) if re.fullmatch(r"app-\d{8}T\d{6}Z\.db\.gz", n)]
        self.assertEqual([k for k, _ in storage_servers.s3_list(store, "")], [made])  # no prefix: the file name
        copy = os.path.join(site.root, "copy.db")
        with open(copy, "wb") as f:
            f.write(gzip.decompress(storage_servers.s3_get(store, made)))
        db = sqlite3.connect(copy)
        self.assertEqual(db.execute("SELECT count(*) FROM users").fetchone()[0], 50)
        db.close()
        [mail] = self.smtp.wait_messages(1)
        self.assertIn(f"Uploaded to:     offsite:{made}", mail.message.get_body(("plain",)).get_content())

    def test_a_failed_upload_fails_the_backup_and_mails_the_error_to_the_admins(self):
        store = storage_servers.S3Server("backups").start()
        self.addCleanup(store.stop)
        site, server = self.offsite_backup_site("postgres", store)
        self.env(S3_KEY="NOT-A-KEY")
        site.start()
        [run] = site.wait_run("nightly-backup", timeout=60)
        site.stop()
        self.assertEqual(run["status"], "failed")
        self.assertRegex(run["error"], r"backup of app failed: .*storage: offsite: PUT app/app-\d{8}T\d{6}Z\.sql\.gz: "
                                       r"403 InvalidAccessKeyId")
        [mail] = self.smtp.wait_messages(1)
        self.assertEqual(mail.envelope["rcpt_tos"], ["cto@acme.test", "ops@acme.test"])
        self.assertEqual(mail.message["Subject"], "Backup of app FAILED")
        self.assertIn("403 InvalidAccessKeyId", mail.message.get_body(("plain",)).get_content())
        self.assertEqual(storage_servers.s3_list(store, ""), [])

    def test_dry_run_of_the_offsite_backup_shows_every_step(self):
        store = storage_servers.S3Server("backups").start()
        self.addCleanup(store.stop)
        site, server = self.offsite_backup_site("postgres", store)
        out = site.dry_run("nightly-backup")
        self.assertEqual(out["status"], "succeeded", out)
        self.assertEqual([e["kind"] for e in out["effects"]], ["db", "storage", "mail"])
        self.assertRegex(out["effects"][1]["summary"], r"^put offsite:app/app-\d{8}T\d{6}Z\.sql\.gz \(0 bytes\) from .*\.sql\.gz$")
        self.assertEqual(out["effects"][2]["detail"]["to"], ["cto@acme.test", "ops@acme.test"])
        self.assertEqual(storage_servers.s3_list(store, ""), [])
        self.assertEqual(os.listdir(self.backups), [])

    def test_session_cleanup_then_weekly_summary_from_history(self):
        site = self.backup_site()
        self.patch("session-cleanup", r'^  cron: .*$', f"  at: '{soon()}'")
        self.patch("weekly-summary", r'^  cron: .*$', "  after: {job: session-cleanup}")
        self.patch("weekly-summary", r'^  timezone: .*\n', "")
        os.remove(os.path.join(site.root, "jobs.d", "nightly-backup.yaml"))
        site.start()
        [cleanup] = site.wait_run("session-cleanup")
        [summary] = site.wait_run("weekly-summary")
        site.stop()
        self.assertEqual(cleanup["status"], "succeeded", cleanup)
        self.assertIn('"deleted":7', cleanup["result"])
        db = sqlite3.connect(self.db_path)
        self.assertEqual(db.execute("SELECT count(*) FROM sessions").fetchone()[0], 3)
        db.close()
        self.assertEqual(summary["status"], "succeeded", summary)
        [mail] = self.smtp.wait_messages(1)
        self.assertEqual(mail.message["Subject"], "Weekly job summary: 1 runs, 0 failed")
        self.assertIn("session-cleanup: 1 runs, 0 failed, last succeeded", mail.message.get_body(("plain",)).get_content())


if __name__ == "__main__":
    unittest.main()
