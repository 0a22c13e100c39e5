-- Roles (cronhost run --role): a host does all (fires and runs), or is a scheduler (claims the
-- slots as queued runs nobody owns, with a NOTIFY on cronhost_queued in the claim's
-- transaction) or an executor (takes queued runs nobody owns, FOR UPDATE SKIP LOCKED, and runs
-- them as their owner).
ALTER TABLE hosts ADD COLUMN role text NOT NULL DEFAULT 'all';
-- What executors take, oldest first.
CREATE INDEX runs_unowned_queued ON runs (id) WHERE status = 'queued' AND owner IS NULL;
