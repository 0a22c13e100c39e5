-- Email bodies for the stock jobs: each template returns {subject, text, html}, readable as
-- plain text and as HTML. Values are escaped for HTML; nothing here sends anything.
local M = {}

local function escape(value)
  return (tostring(value):gsub("[&<>\"]", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;"}))
end

-- estimated: a dry run's guess (files.gzip compresses nothing then), said as one.
function M.size(bytes, estimated)
  local text
  if bytes < 1024 then text = string.format("%d bytes", bytes)
  elseif bytes < 1048576 then text = string.format("%.1f KiB", bytes / 1024)
  else text = string.format("%.1f MiB", bytes / 1048576) end
  return estimated and "about " .. text .. " (estimated in a dry run)" or text
end

-- rows: list of {label, value}. Builds the plain-text and HTML forms of one message.
local function message(subject, intro, rows, outro)
  local text, html = {intro, ""}, {"<p>" .. escape(intro) .. "</p>", "<table>"}
  for _, row in ipairs(rows or {}) do
    text[#text + 1] = string.format("%-16s %s", row[1] .. ":", tostring(row[2]))
    html[#html + 1] = "<tr><th align=\"left\">" .. escape(row[1]) .. "</th><td>" .. escape(row[2]) .. "</td></tr>"
  end
  html[#html + 1] = "</table>"
  if outro then
    text[#text + 1] = ""
    text[#text + 1] = outro
    html[#html + 1] = "<p>" .. escape(outro) .. "</p>"
  end
  text[#text + 1] = ""
  text[#text + 1] = "-- cronhost"
  return {subject = subject, text = table.concat(text, "\n") .. "\n", html = table.concat(html, "\n") .. "\n"}
end

-- d: database, engine, file, bytes, estimated, source_bytes (SQLite), dump_ms and table_count
-- (servers), seconds, pruned, attached, tables ({name, rows}), rows_note (why rows are missing),
-- id (the run), location, parts and remote_pruned (when uploaded to an object store).
function M.backup_success(d)
  local rows = {{"Database", d.database}, {"Engine", d.engine}, {"File", d.file}, {"Size", M.size(d.bytes, d.estimated)}}
  if d.id then table.insert(rows, 1, {"Backup id", d.id}) end
  if d.location then
    rows[#rows + 1] = {"Uploaded to", d.location}
    rows[#rows + 1] = {"Remote removed", d.remote_pruned}
  end
  if d.source_bytes then rows[#rows + 1] = {"Uncompressed", M.size(d.source_bytes)} end
  rows[#rows + 1] = {"Duration", d.seconds .. " s" .. (d.dump_ms and string.format(" (dump %.1f s)", d.dump_ms / 1000) or "")}
  if d.table_count then rows[#rows + 1] = {"Tables", d.table_count} end
  rows[#rows + 1] = {"Old backups removed", d.pruned}
  rows[#rows + 1] = {"Attached", d.attached and "yes" or "no (larger than the limit)"}
  for _, t in ipairs(d.tables or {}) do rows[#rows + 1] = {"Rows in " .. t.name, t.rows} end
  if d.rows_note then rows[#rows + 1] = {"Rows", "not counted: " .. d.rows_note} end
  return message("Backup of " .. d.database .. " succeeded (" .. M.size(d.bytes, d.estimated) .. ")",
                 "The nightly backup of the " .. d.database .. " database finished.", rows)
end

function M.backup_failure(d)
  return message("Backup of " .. d.database .. " FAILED",
                 "The nightly backup of the " .. d.database .. " database failed after " .. d.attempts .. " attempt(s).",
                 {{"Database", d.database}, {"Error", d.error}}, "Nothing was kept from this attempt; check the host log.")
end

function M.update_available(d)
  return message("Update available: " .. d.image .. " " .. d.latest,
                 "A newer version of " .. d.image .. " is available and waits for approval.",
                 {{"Current", d.current}, {"Latest", d.latest}, {"Approval", "#" .. d.approval_id}},
                 "Approve it with: cronhost approvals approve " .. d.approval_id .. " --by NAME")
end

function M.update_approved(d)
  return message("Update to " .. d.version .. " approved",
                 d.by .. " approved the update; it runs at the next execution window.",
                 {{"Version", d.version}, {"From", d.current or "?"}, {"Approved by", d.by},
                  {"Note", d.note ~= "" and d.note or "-"}, {"Approval", "#" .. d.id}})
end

function M.update_executed(d)
  return message("Update to " .. d.version .. " executed",
                 "The deploy webhook accepted the update.",
                 {{"Version", d.version}, {"From", d.current or "?"}, {"Webhook status", d.status}, {"Approval", "#" .. d.id}})
end

function M.update_failed(d)
  return message("Update to " .. d.version .. " FAILED",
                 "The deploy webhook did not accept the update; the approval is marked FAILED.",
                 {{"Version", d.version}, {"Error", d.error}, {"Approval", "#" .. d.id}})
end

-- jobs: list of {job, runs, succeeded, failed, last_status}
function M.weekly_summary(d)
  local rows = {}
  for _, j in ipairs(d.jobs) do
    rows[#rows + 1] = {j.job, string.format("%d runs, %d failed, last %s", j.runs, j.failed, j.last_status)}
  end
  return message("Weekly job summary: " .. d.total .. " runs, " .. d.failed .. " failed",
                 "Runs of the last " .. d.days .. " days, by job.", rows)
end

M.escape = escape
return M
