-- An event's runs carry the event, and a job runs once per event (runs_event_once). The run's
-- claim marks the event delivered in its own transaction, so an event is delivered when, and
-- only when, its runs are recorded: a host that dies in between, or a claim that fails, leaves
-- the event to be fired again, and hosts that both fire it get one run.
ALTER TABLE runs ADD COLUMN event_id bigint;
CREATE UNIQUE INDEX runs_event_once ON runs (job, event_id) WHERE trigger = 'event';
