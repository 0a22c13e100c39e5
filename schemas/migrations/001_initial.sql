-- cronhost state file, version 1. Times are Unix milliseconds (UTC).
-- Applied in order at start; PRAGMA user_version records the last one applied.

-- One row per job the host has seen: runtime overrides and counters.
CREATE TABLE job_state (
  job              TEXT PRIMARY KEY,
  enabled_override INTEGER,            -- NULL: as the job file says; 0 or 1: set at runtime
  last_slot        INTEGER,            -- the last scheduled slot the host fired (catch-up starts here)
  next_fire        INTEGER,            -- the next slot, as computed at the last fire or load
  runs             INTEGER NOT NULL DEFAULT 0,
  successes        INTEGER NOT NULL DEFAULT 0,
  failures         INTEGER NOT NULL DEFAULT 0,
  last_status      TEXT,
  last_finished_at INTEGER
);

-- Every run, one row per attempt. A scheduled slot is claimed by inserting its row, and the
-- unique index below makes a second claim of the same slot fail: a slot never runs twice.
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  job           TEXT    NOT NULL,
  trigger       TEXT    NOT NULL CHECK (trigger IN ('schedule', 'manual', 'retry', 'catchup', 'after')),
  scheduled_for INTEGER NOT NULL,      -- the slot (for manual and after runs: when they were asked for)
  attempt       INTEGER NOT NULL DEFAULT 1,
  first_run_id  INTEGER,               -- for retries: the run of attempt 1
  status        TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out',
                                                   'skipped', 'cancelled', 'interrupted')),
  queued_at     INTEGER,
  started_at    INTEGER,
  finished_at   INTEGER,
  duration_ms   INTEGER,
  lateness_ms   INTEGER,               -- started_at minus the due time (slot plus jitter)
  result        TEXT,                  -- JSON the script returned
  error         TEXT,
  output        TEXT,                  -- print() and log lines, capped (output_truncated = 1 when cut)
  output_truncated INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX runs_slot ON runs (job, scheduled_for, attempt) WHERE trigger IN ('schedule', 'catchup', 'retry');
CREATE INDEX runs_by_job ON runs (job, id);
CREATE INDEX runs_unfinished ON runs (status) WHERE status IN ('queued', 'running');
CREATE INDEX runs_finished_at ON runs (finished_at);

-- state.get/put/delete of job scripts: JSON values per job and key.
CREATE TABLE kv (
  job        TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (job, key)
) WITHOUT ROWID;

-- Human approvals requested by jobs (filled by the approvals API).
CREATE TABLE approvals (
  id           INTEGER PRIMARY KEY,
  job          TEXT,
  kind         TEXT NOT NULL,
  key          TEXT NOT NULL,            -- dedupe key, e.g. the image version
  title        TEXT NOT NULL,
  payload      TEXT NOT NULL DEFAULT '{}',
  status       TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'APPROVED', 'EXECUTED', 'FAILED')),
  requested_at INTEGER NOT NULL,
  decided_by   TEXT,
  decided_at   INTEGER,
  executed_at  INTEGER,
  notes        TEXT
);
CREATE INDEX approvals_by_status ON approvals (status, kind);
