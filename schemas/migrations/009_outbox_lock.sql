-- A mail being sent is locked by the host sending it (Unix ms; NULL: free), so that hosts
-- sharing one state (PostgreSQL) send each mail once; a host that dies mid-send leaves a lock
-- that runs out, and another host sends it then.
ALTER TABLE outbox ADD COLUMN locked_until INTEGER;
