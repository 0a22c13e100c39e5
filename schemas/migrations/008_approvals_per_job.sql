-- Approvals, version 4: an approval belongs to the job that asked. Two jobs asking the same
-- (kind, key) each get their own, and approving one supersedes older open ones of its own
-- job's group only; a job sees other jobs' approvals only through allow.approvals.
DROP INDEX approvals_open;
CREATE UNIQUE INDEX approvals_open ON approvals (ifnull(job, ''), kind, key) WHERE status IN ('PENDING', 'APPROVED');
DROP INDEX approvals_by_key;
CREATE INDEX approvals_by_key ON approvals (job, kind, key, status);
DROP INDEX approvals_open_by_group;
CREATE INDEX approvals_open_by_group ON approvals (job, kind, group_key, id)
  WHERE group_key IS NOT NULL AND status IN ('PENDING', 'APPROVED');
