-- A run had an entry in runs_unfinished from its claim and one in runs_finished_at from its
-- finish: two index pages in each commit (the claim of one run and the finish of the one
-- before). One index whose key puts unfinished runs last, right after the runs that finished
-- most recently, holds both on one page: a WAL frame less per run. Retention reads it as
-- `ifnull(finished_at, 9223372036854775807) < ?`, the start's recovery as `= 9223372036854775807`
-- (store/sqlite_store.cpp, kUnfinished); a run is unfinished exactly while finished_at is NULL.
DROP INDEX runs_unfinished;
DROP INDEX runs_finished_at;
CREATE INDEX runs_by_finish ON runs (ifnull(finished_at, 9223372036854775807));
