-- Notifications (notify: in job files and the host config): each one decided, sent or
-- suppressed by repeat_every, so a restart or another host does not send it again. dedup_key
-- names what it is about (a run's failure, a missed slot, a dead-man period): the first host
-- to insert it sends it, the others see the conflict and stay quiet.
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  job TEXT NOT NULL,
  event TEXT NOT NULL,
  at INTEGER NOT NULL,
  slot INTEGER,
  run_id INTEGER,
  channels TEXT NOT NULL DEFAULT '[]',
  suppressed INTEGER NOT NULL DEFAULT 0,
  summary TEXT NOT NULL DEFAULT '',
  dedup_key TEXT NOT NULL UNIQUE
);
CREATE INDEX notifications_by_job ON notifications (job, at);
