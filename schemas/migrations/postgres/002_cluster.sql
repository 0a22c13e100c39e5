-- Several hosts on one database (issue 14, step 4): each daemon has a hosts row, and a run it
-- claimed is its own (owner) for as long as its lease (lease_until, from the database's now(),
-- never a host clock) is renewed. fence grows each time a run changes hands: a write of the run
-- applies only with the owner and fence its writer holds, so a host that was paused or cut off
-- and comes back late has its result refused.
CREATE TABLE hosts (
  id           text PRIMARY KEY,          -- random per daemon start
  name         text NOT NULL,             -- hostname/pid, as in runs.host
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  stopped_at   timestamptz                -- set at a clean close
);

ALTER TABLE runs ADD COLUMN owner text;
ALTER TABLE runs ADD COLUMN fence bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_until timestamptz;

-- The reaper and the renewals: unfinished runs some host owns, by lease end.
CREATE INDEX runs_owned ON runs (lease_until) WHERE owner IS NOT NULL AND status IN ('queued', 'running');
