-- A constraint with a list of three or more values (trigger IN ('schedule', ...)) makes SQLite
-- build a temporary b-tree of the list each time it is checked: three on every claim (both
-- CHECKs and runs_slot's WHERE) and one on every start and finish. Written as comparisons
-- joined by OR, the rule is the same and its check costs a few comparisons: a claimed run took
-- ~8 us less of the one writer thread (README, performance).
--
-- SQLite cannot change a CHECK in place. A change that leaves every stored row and index entry
-- as it is may rewrite the schema's text instead of copying the table (the procedure on
-- https://sqlite.org/lang_altertable.html#otheralter): the rules are the same, so are the rows
-- each accepts and runs_slot holds. migrate() moves the schema cookie on after every
-- migration, and RESET makes this connection read the new text.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(replace(sql,
    'CHECK (trigger IN (''schedule'', ''manual'', ''retry'', ''catchup'', ''after'', ''event''))',
    'CHECK (trigger = ''schedule'' OR trigger = ''manual'' OR trigger = ''retry'' OR trigger = ''catchup'' OR
                               trigger = ''after'' OR trigger = ''event'')'),
    'CHECK (status IN (''queued'', ''running'', ''succeeded'', ''failed'', ''timed_out'',
                                                   ''skipped'', ''cancelled'', ''interrupted''))',
    'CHECK (status = ''queued'' OR status = ''running'' OR status = ''succeeded'' OR status = ''failed'' OR
                              status = ''timed_out'' OR status = ''skipped'' OR status = ''cancelled'' OR
                              status = ''interrupted'')')
  WHERE type = 'table' AND name = 'runs';
UPDATE sqlite_schema SET sql = replace(sql, 'WHERE trigger IN (''schedule'', ''catchup'', ''retry'')',
                                            'WHERE trigger = ''schedule'' OR trigger = ''catchup'' OR trigger = ''retry''')
  WHERE type = 'index' AND name = 'runs_slot';
PRAGMA writable_schema = RESET;
