-- Hosts sharing the database keep one catalog (issue 14, observability).
-- catalog_version: every admin write to jobs (overrides, registrations) raises it in its own
-- transaction; each host reads it every second and reloads the overrides and registered jobs
-- when it moved, so a change made through any host's API reaches all of them.
CREATE TABLE catalog_version (
  id      integer PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 0);

-- job_definitions: the hash of each job's definition as each daemon loaded it (hosts.id), so
-- a job whose definition differs between live hosts is said in their logs and /health.
CREATE TABLE job_definitions (
  job        text NOT NULL,
  host       text NOT NULL,
  hash       text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job, host)
);
CREATE INDEX job_definitions_by_host ON job_definitions (host);
