-- Webhook notifications waiting for delivery: the host POSTs each one, retries it with doubling
-- delays, and after the last attempt (or a permanent refusal) keeps it here as failed, its
-- secrets cleared, so nothing is dropped silently. A delivered one is deleted.
CREATE TABLE webhook_outbox (
  id              INTEGER PRIMARY KEY,
  job             TEXT    NOT NULL,
  run_id          INTEGER,               -- the run the event is about; NULL for missed slots and dead-man alerts
  event           TEXT    NOT NULL,      -- failed, timed_out, recovered, missed, no_success_within
  format          TEXT    NOT NULL,      -- json, slack or teams: how `body` was rendered
  body            TEXT    NOT NULL,      -- the request body, rendered when queued
  target          TEXT    NOT NULL,      -- JSON: url, headers, secret, secret_values ({} once failed)
  url             TEXT    NOT NULL,      -- for display: the URL with secret values replaced by ***
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  last_status     INTEGER,               -- the last HTTP status received; NULL: none (refused, timed out)
  created_at      INTEGER NOT NULL,
  locked_until    INTEGER,               -- taken by a host sending it (Unix ms); NULL: free
  failed_at       INTEGER                -- given up (Unix ms); NULL: still to deliver
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE failed_at IS NULL;
