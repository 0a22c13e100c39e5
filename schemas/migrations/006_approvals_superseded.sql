-- Approvals, version 3: a newer approval supersedes older open ones of its group, and a
-- FAILED approval no longer claims to have been executed.
--
-- SQLite cannot widen a CHECK in place; rebuild, as 002 did, keeping ids (AUTOINCREMENT).
CREATE TABLE approvals_v3 (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  job           TEXT,
  kind          TEXT NOT NULL,
  key           TEXT NOT NULL,           -- dedupe key, e.g. the image version
  title         TEXT NOT NULL,
  payload       TEXT NOT NULL DEFAULT '{}',
  status        TEXT NOT NULL DEFAULT 'PENDING'
                CHECK (status IN ('PENDING', 'APPROVED', 'EXECUTED', 'FAILED', 'SUPERSEDED')),
  requested_at  INTEGER NOT NULL,
  decided_by    TEXT,
  decided_at    INTEGER,
  executed_at   INTEGER,                 -- EXECUTED only
  notes         TEXT,                    -- the decision's note, then the execution's, one per line
  group_key     TEXT,                    -- approving one supersedes the older open ones of (kind, group_key); NULL: none
  superseded_by INTEGER,                 -- SUPERSEDED: the approval whose approval closed this one
  closed_at     INTEGER                  -- when it became EXECUTED, FAILED or SUPERSEDED
);
-- A FAILED approval was given executed_at before; that time is when it closed.
INSERT INTO approvals_v3 (id, job, kind, key, title, payload, status, requested_at, decided_by, decided_at,
                          executed_at, notes, closed_at)
  SELECT id, job, kind, key, title, payload, status, requested_at, decided_by, decided_at,
         CASE WHEN status = 'EXECUTED' THEN executed_at END, notes, executed_at FROM approvals;
-- Keep the id sequence: a cancelled (deleted) newest id must not be reused.
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'approvals')
  WHERE name = 'approvals_v3' AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'approvals');
INSERT INTO sqlite_sequence (name, seq)
  SELECT 'approvals_v3', seq FROM sqlite_sequence WHERE name = 'approvals'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'approvals_v3');
DROP TABLE approvals;
ALTER TABLE approvals_v3 RENAME TO approvals;
CREATE INDEX approvals_by_status ON approvals (status, kind);
CREATE UNIQUE INDEX approvals_open ON approvals (kind, key) WHERE status IN ('PENDING', 'APPROVED');
CREATE INDEX approvals_by_key ON approvals (kind, key, status);
-- The open approvals of a group, for superseding on approval.
CREATE INDEX approvals_open_by_group ON approvals (kind, group_key, id)
  WHERE group_key IS NOT NULL AND status IN ('PENDING', 'APPROVED');
