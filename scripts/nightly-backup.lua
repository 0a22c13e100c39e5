-- nightly-backup: a backup of the app database into the backup folder, gzipped, optionally
-- uploaded to an object store (params.store, a storage: entry of the host config), older
-- backups pruned here and there, and a report mailed with the backup attached (when small
-- enough). Whatever engine the host config gives `app`: SQLite through the online backup (a
-- .db.gz the sqlite3 shell opens), PostgreSQL and MySQL/MariaDB through db.dump (a .sql.gz
-- that psql or mariadb restores). The report goes to params.recipients, or to the addresses
-- params.recipients_query reads from the app's own database. On failure the run fails; the
-- last attempt mails the error first.
local templates = require("templates")
local p = job.params
local folder = p.folder or job.allow.files[1]
local started = os.time()
local stamp = os.date("!%Y%m%dT%H%M%SZ")

-- The tables of an open connection and their rows, by the engine's own catalog.
local catalogs = {
  sqlite = {"SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
            function(t) return '"' .. t.name:gsub('"', '""') .. '"' end},
  postgresql = {"SELECT table_schema AS schema, table_name AS name FROM information_schema.tables "
                .. "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') "
                .. "ORDER BY 1, 2",
                function(t) return '"' .. t.schema:gsub('"', '""') .. '"."' .. t.name:gsub('"', '""') .. '"' end},
  mysql = {"SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() "
           .. "AND table_type = 'BASE TABLE' ORDER BY 1",
           function(t) return "`" .. t.name:gsub("`", "``") .. "`" end},
}

local function count_rows(conn, engine)
  local list, quoted = catalogs[engine][1], catalogs[engine][2]
  local tables = {}
  for _, t in ipairs(assert(conn:query(list))) do
    local n = assert(conn:query("SELECT count(*) AS n FROM " .. quoted(t)))[1].n
    local name = t.schema and t.schema ~= "public" and t.schema .. "." .. t.name or t.name
    tables[#tables + 1] = {name = name, rows = math.tointeger(tonumber(n)) or n}
  end
  return tables
end

local function prune(extension)
  return #assert(files.prune(folder, {pattern = p.database .. "-*" .. extension, older_than = p.keep_days * 86400}))
end

-- SQLite: the online backup, then gzip.
local function backup_sqlite()
  local conn <close> = assert(db.open(p.database, {busy_timeout = p.busy_timeout}))
  local tables = p.count_rows and count_rows(conn, "sqlite") or {}
  local path = string.format("%s/%s-%s.db", folder, p.database, stamp)
  local copy = assert(conn:backup(path))
  local gz = assert(files.gzip(path, {remove_source = true}))
  return {engine = "sqlite", file = gz.path, bytes = gz.bytes, estimated = gz.estimated, source_bytes = copy.bytes,
          pages = copy.pages, pruned = prune(".db.gz"), tables = tables}
end

-- A server: pg_dump or mariadb-dump, run by the host; rows counted over a connection when the
-- host reaches the server with db.open, else left out of the report with the reason.
local function backup_server()
  local path = string.format("%s/%s-%s.sql.gz", folder, p.database, stamp)
  local d = assert(db.dump(p.database, {path = path, format = "plain", gzip = true}))
  local result = {engine = d.engine, file = d.path, bytes = d.bytes, estimated = d.dry_run, dump_ms = d.duration_ms,
                  table_count = d.tables, pruned = prune(".sql.gz"), tables = {}}
  if p.count_rows then
    local conn <close>, err = db.open(p.database)
    if conn then result.tables = count_rows(conn, d.engine) else result.rows_note = err end
  end
  return result
end

-- SQLite answers sqlite_version(); a server does not. The probe has a connection of its own,
-- closed at once, so a server's failed statement leaves nothing behind (a dry run's
-- transaction). A database db.open cannot reach goes to db.dump, whose error then says why
-- (a SQLite file that is missing, a server that is down).
local function is_sqlite()
  local conn <close> = db.open(p.database)
  return conn ~= nil and conn:query("SELECT sqlite_version() AS v") ~= nil
end

-- The backup to the object store, as PREFIX + its file name; older ones there pruned as here.
local function upload(result)
  local name = result.file:match("[^/]+$")
  local key = (p.store_prefix or "") .. name
  local up = assert(storage.put(p.store, key, {path = result.file},
                                {content_type = "application/gzip",
                                 metadata = {database = p.database, engine = result.engine}}))
  local pruned = assert(storage.prune(p.store, (p.store_prefix or "") .. p.database .. "-",
                                      {older_than = p.keep_days * 86400, keep = 1}))  -- never the one just sent
  result.location, result.parts, result.remote_pruned = p.store .. ":" .. key, up.parts, #pruned
end

local function backup()
  local result = is_sqlite() and backup_sqlite() or backup_server()
  if (p.store or "") ~= "" then upload(result) end
  return result
end

-- The listed recipients, or those the configured query reads from the app's database (the
-- `email` column, or the only one): a team's admins as its app knows them. Nobody found, or a
-- database that cannot be read (the failure mail of a backup of a database that is down),
-- falls back to the list.
local function recipients()
  if (p.recipients_query or "") == "" then return p.recipients end
  local ok, found = pcall(function()
    local conn <close> = assert(db.open(p.database))
    local list = {}
    for _, row in ipairs(assert(conn:query(p.recipients_query))) do
      local only
      for _, v in pairs(row) do only = only == nil and v or false end
      local address = row.email or only
      if type(address) == "string" and address ~= "" then list[#list + 1] = address end
    end
    return list
  end)
  if ok and #found > 0 then return found end
  log.warn("recipients_query gave no recipients (", ok and "no rows" or tostring(found), "); mailing ",
           table.concat(p.recipients, ", "))
  return p.recipients
end

local ok, result = pcall(backup)
if not ok then
  local why = tostring(result)
  if job.attempt >= job.max_attempts then
    local m = templates.backup_failure{database = p.database, attempts = job.attempt, error = why}
    mail.send{to = recipients(), subject = m.subject, text = m.text, html = m.html}
  end
  error("backup of " .. p.database .. " failed: " .. why, 0)
end

result.seconds = os.time() - started
result.database = p.database
result.attached = result.bytes <= p.attach_max_mb * 1048576
result.id = job.run_id
local m = templates.backup_success(result)
local sent = assert(mail.send{to = recipients(), subject = m.subject, text = m.text, html = m.html,
                              attachments = result.attached and {{path = result.file}} or nil})
log.info("backed up ", p.database, " (", result.engine, ") to ", result.location or result.file, " (",
         templates.size(result.bytes, result.estimated), ")")
return {file = result.file, engine = result.engine, bytes = result.bytes, pruned = result.pruned,
        location = result.location, remote_pruned = result.remote_pruned, mail = sent.sent and "sent" or "queued"}
