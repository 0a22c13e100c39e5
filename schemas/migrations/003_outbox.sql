-- Mail that could not be delivered at once: the host retries it with backoff, then moves it
-- to the dead-letter file. Nothing is dropped silently.
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  job             TEXT    NOT NULL,
  run_id          INTEGER,               -- the run that sent it; its record gets a note if it dies
  message         TEXT    NOT NULL,      -- JSON: from, to, cc, bcc, subject, text, html, attachments (base64)
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);

-- What happened after a run that belongs to its record, e.g. a mail that was never delivered.
ALTER TABLE runs ADD COLUMN notes TEXT;
