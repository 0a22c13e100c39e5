-- A slot's unique index leads with its time, not its job: each claim then lands on the
-- index's last pages, where a job-first key put every run on a page of its own (a page of
-- WAL per run, the 10,000 runs/s tail growing with the table). Same columns, same rule: a
-- slot still runs once. A job's claimed slots are found through runs_by_job (job, id).
DROP INDEX runs_slot;
CREATE UNIQUE INDEX runs_slot ON runs (scheduled_for, job, attempt) WHERE trigger IN ('schedule', 'catchup', 'retry');
