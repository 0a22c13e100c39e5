-- nightly-backup: an online backup of the app database into the backup folder, gzipped,
-- older backups pruned, and a report mailed with the backup attached (when small enough).
-- On failure the run fails; the last attempt mails the error first.
local templates = require("templates")
local p = job.params
local folder = p.folder or job.allow.files[1]
local started = os.time()

local function backup()
  local conn <close> = assert(db.open(p.database, {busy_timeout = p.busy_timeout}))
  local tables = {}
  if p.count_rows then
    for _, t in ipairs(assert(conn:query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))) do
      local n = assert(conn:query('SELECT count(*) AS n FROM "' .. t.name:gsub('"', '""') .. '"'))[1].n
      tables[#tables + 1] = {name = t.name, rows = n}
    end
  end
  local path = string.format("%s/%s-%s.db", folder, p.database, os.date("!%Y%m%dT%H%M%SZ"))
  local copy = assert(conn:backup(path))
  local gz = assert(files.gzip(path, {remove_source = true}))
  local pruned = assert(files.prune(folder, {pattern = p.database .. "-*.db.gz", older_than = p.keep_days * 86400}))
  return {file = gz.path, bytes = gz.bytes, estimated = gz.estimated, source_bytes = copy.bytes, pages = copy.pages,
          pruned = #pruned, tables = tables}
end

local ok, result = pcall(backup)
if not ok then
  local why = tostring(result)
  if job.attempt >= job.max_attempts then
    local m = templates.backup_failure{database = p.database, attempts = job.attempt, error = why}
    mail.send{to = p.recipients, subject = m.subject, text = m.text, html = m.html}
  end
  error("backup of " .. p.database .. " failed: " .. why, 0)
end

result.seconds = os.time() - started
result.database = p.database
result.attached = result.bytes <= p.attach_max_mb * 1048576
local m = templates.backup_success(result)
local sent = assert(mail.send{to = p.recipients, subject = m.subject, text = m.text, html = m.html,
                              attachments = result.attached and {{path = result.file}} or nil})
log.info("backed up ", p.database, " to ", result.file, " (", templates.size(result.bytes, result.estimated), ")")
return {file = result.file, bytes = result.bytes, pruned = result.pruned, mail = sent.sent and "sent" or "queued"}
