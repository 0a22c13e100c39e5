-- Runs fired by host events (schedule: {on: approval.approved}) record the trigger 'event'.
-- SQLite cannot change a CHECK constraint in place, so the runs table is rebuilt with the
-- same columns and indexes (the migration runs inside one transaction).
CREATE TABLE runs_new (
  id            INTEGER PRIMARY KEY,
  job           TEXT    NOT NULL,
  trigger       TEXT    NOT NULL CHECK (trigger IN ('schedule', 'manual', 'retry', 'catchup', 'after', 'event')),
  scheduled_for INTEGER NOT NULL,
  attempt       INTEGER NOT NULL DEFAULT 1,
  first_run_id  INTEGER,
  status        TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out',
                                                   'skipped', 'cancelled', 'interrupted')),
  queued_at     INTEGER,
  started_at    INTEGER,
  finished_at   INTEGER,
  duration_ms   INTEGER,
  lateness_ms   INTEGER,
  result        TEXT,
  error         TEXT,
  output        TEXT,
  output_truncated INTEGER NOT NULL DEFAULT 0,
  notes         TEXT
);
INSERT INTO runs_new SELECT id, job, trigger, scheduled_for, attempt, first_run_id, status, queued_at, started_at,
                            finished_at, duration_ms, lateness_ms, result, error, output, output_truncated, notes
                       FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE UNIQUE INDEX runs_slot ON runs (job, scheduled_for, attempt) WHERE trigger IN ('schedule', 'catchup', 'retry');
CREATE INDEX runs_by_job ON runs (job, id);
CREATE INDEX runs_unfinished ON runs (status) WHERE status IN ('queued', 'running');
CREATE INDEX runs_finished_at ON runs (finished_at);
