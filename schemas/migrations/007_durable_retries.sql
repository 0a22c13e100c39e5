-- A failed run whose retry is waiting out its backoff records when the retry is due, in the
-- same write as its outcome, so a host that stops (cleanly or not) runs the retry after the
-- restart. The retry's claim clears it. An event run keeps its event, so its retries (and
-- crash recovery) carry the same payload.
ALTER TABLE runs ADD COLUMN retry_at INTEGER;
ALTER TABLE runs ADD COLUMN event TEXT;
CREATE INDEX runs_retry_due ON runs (retry_at) WHERE retry_at IS NOT NULL;
