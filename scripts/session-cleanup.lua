-- session-cleanup: deletes expired rows of a table in the app database. The table and column
-- come from params and are checked to be plain names, as SQL cannot bind identifiers.
local p = job.params
for _, name in ipairs({p.table, p.column}) do
  if not name:match("^[%a_][%w_]*$") then error("params: '" .. name .. "' is not a plain table or column name", 0) end
end
local conn <close> = assert(db.open(p.database))
local cutoff = os.time() - (p.older_than_days or 0) * 86400
local deleted = assert(conn:exec("DELETE FROM " .. p.table .. " WHERE " .. p.column .. " < ?", cutoff))
log.info("deleted ", deleted, " expired row(s) from ", p.table)
return {deleted = deleted}
