-- cronhost state file, version 2: approvals that cannot be requested twice, and host events.

-- Approval ids are never reused (AUTOINCREMENT): cancelling deletes the row, and without it
-- the next request would take the same id, so `approvals approve 7` or an approval.cancelled
-- event naming 7 could mean either. SQLite cannot add AUTOINCREMENT in place; rebuild.
CREATE TABLE approvals_v2 (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
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
  notes        TEXT                      -- the decision's note, then the execution's, one per line
);
INSERT INTO approvals_v2 SELECT id, job, kind, key, title, payload, status, requested_at, decided_by, decided_at,
                                executed_at, notes FROM approvals;
DROP TABLE approvals;
ALTER TABLE approvals_v2 RENAME TO approvals;
CREATE INDEX approvals_by_status ON approvals (status, kind);

-- At most one open (PENDING or APPROVED) approval per (kind, key): a job that checks every
-- hour finds the one it asked for before instead of asking again. The index makes that hold
-- even when two connections (the host and the command line) write at once.
CREATE UNIQUE INDEX approvals_open ON approvals (kind, key) WHERE status IN ('PENDING', 'APPROVED');
-- History of a (kind, key): what was executed or failed before.
CREATE INDEX approvals_by_key ON approvals (kind, key, status);

-- Things that happened in the host, for the daemon to deliver to jobs that wait for them
-- (approval.approved, approval.cancelled, ...). Written in the same transaction as the change
-- they announce, so an event is never lost nor announced for a change that was rolled back.
-- Ids only grow (AUTOINCREMENT), so the daemon's cursor (the last id it saw) stays valid
-- when delivered events are pruned.
CREATE TABLE events (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  name         TEXT    NOT NULL,         -- e.g. approval.approved
  payload      TEXT    NOT NULL DEFAULT '{}',  -- JSON
  created_at   INTEGER NOT NULL,
  delivered_at INTEGER                   -- NULL until the daemon has handed it to every job waiting for it
);
CREATE INDEX events_undelivered ON events (id) WHERE delivered_at IS NULL;
