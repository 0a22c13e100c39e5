-- concurrency: forbid across hosts. A run of a forbid job is `exclusive`, and at most one
-- exclusive run of a job is queued or running at a time, whichever host claimed it: a second
-- claim is refused by this index (the claim inserts with ON CONFLICT DO NOTHING) and the host
-- records the slot skipped, or lets its retry or catch-up wait. Queued counts as well as
-- running: the claim is the moment two hosts race, and a queued run is about to start.
ALTER TABLE runs ADD COLUMN exclusive boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX runs_exclusive ON runs (job) WHERE exclusive AND status IN ('queued', 'running');
