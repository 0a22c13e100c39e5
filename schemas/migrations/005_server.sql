-- The admin HTTP API: who triggered a run, the item counts an HTTP runner reports, runtime
-- schedule overrides, jobs that services registered over HTTP, and the audit log.
ALTER TABLE runs ADD COLUMN triggered_by TEXT;      -- the token name behind a manual run
ALTER TABLE runs ADD COLUMN params TEXT;            -- a manual run's params override (JSON), kept for its retries
ALTER TABLE runs ADD COLUMN items_processed INTEGER;
ALTER TABLE runs ADD COLUMN items_succeeded INTEGER;
ALTER TABLE runs ADD COLUMN items_failed INTEGER;

-- A schedule set over the API ({"cron": ..., "timezone": ...}); NULL: the definition's.
-- Kept over restarts and reloads until reset.
ALTER TABLE job_state ADD COLUMN schedule_override TEXT;

-- Jobs registered over HTTP: the definition as posted (JSON), owned by the service.
CREATE TABLE registered_jobs (
  name          TEXT PRIMARY KEY,
  definition    TEXT NOT NULL,
  registered_by TEXT NOT NULL,         -- the token name
  registered_at INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);

-- Every audited action over the API: trigger, enable, disable, schedule edits, registration,
-- approve, cancel.
CREATE TABLE audit_log (
  id     INTEGER PRIMARY KEY,
  at     INTEGER NOT NULL,
  actor  TEXT NOT NULL,                -- the token name
  action TEXT NOT NULL,                -- e.g. job.trigger, approval.approve
  target TEXT NOT NULL,                -- a job name, run id or approval id
  detail TEXT                          -- JSON
);
CREATE INDEX audit_by_target ON audit_log (target, id);
