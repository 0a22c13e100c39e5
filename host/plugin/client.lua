-- The Lua API inside the runner process of an isolated Lua run (run.isolation: process).
-- Every module is a proxy: its calls travel to the host, where the host's own bindings serve
-- them (db's as the plugin ABI's db_* calls, over the same host/api code) with the job's
-- allow: list, secrets redaction and dry-run capture, exactly as for a script in the host. Values cross as JSON; a nil argument or result crosses as a hole.
-- json, print, sleep and require are the runner's own. Given `call(op, a, b, c) -> status,
-- payload` by the runner; installs the globals.
local call = ...
local encode, decode, null = json.encode, json.decode, json.null
local OK, FAILED = 0, 1

-- {n = count, v = {["1"] = first, ...}}: positions of nil are simply absent.
local function pack(...)
  local n, values = select("#", ...), {}
  for i = 1, n do
    local value = select(i, ...)
    if value ~= nil then values[tostring(i)] = value end
  end
  return encode({n = n, v = values})
end

local function unpack_values(text)
  local packed = decode(text)
  local out = {}
  for i = 1, packed.n do out[i] = packed.v[tostring(i)] end
  return table.unpack(out, 1, packed.n)
end

-- module.fn(...) in the host; misuse and denials raise here as they would there.
local function remote(name)
  return function(...)
    local status, payload = call("lua_call", name, pack(...))
    if status ~= OK then error(payload, 0) end  -- the host's message, as in-host bindings raise it
    return unpack_values(payload)
  end
end

local function module(name, functions)
  local m = {}
  for _, fn in ipairs(functions) do m[fn] = remote(name .. "." .. fn) end
  _ENV[name] = m
  return m
end

module("state", {"get", "put", "delete"})
module("mail", {"send"})
module("registry", {"tags", "latest"})
module("approvals", {"request", "list", "get", "mark_executed", "mark_failed", "mark_superseded"})
module("semver", {"parse", "compare", "satisfies", "latest"})
module("host", {"runs"})
module("files", {"list", "stat", "remove", "write", "read", "gzip", "prune"})
module("storage", {"put", "get", "list", "delete", "prune"})

-- http: responses get their json() method back (functions do not cross).
local function response_json(r)
  local ok, value = pcall(decode, r.body)
  if not ok then return nil, "the response body is not JSON" end
  return value
end
local function with_json(r, ...)
  if type(r) == "table" then r.json = response_json end
  return r, ...
end
for name, fn in pairs(module("http", {"request", "get", "post", "put", "delete"})) do
  http[name] = function(...) return with_json(fn(...)) end
end

-- log: the line is built here, as tostring() would in the host.
log = {}
for _, level in ipairs({"debug", "info", "warn", "error"}) do
  local send = remote("log." .. level)
  log[level] = function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    send(table.concat(parts, "", 1, parts.n))
  end
end

-- db: a connection is a name; the host holds one connection per database for the run.
local conn_methods = {}
local conn_meta = {__name = "cronhost.db.conn", __index = conn_methods}
local function open_conn(c)
  if c.closed then error("attempt to use a closed conn", 3) end
  return c.name
end
-- convert first: call()'s two results must come last to reach here both (f(g(), x) keeps
-- only g()'s first).
local function db_answer(convert, status, payload)
  if status == OK then return convert(payload) end
  if status == FAILED then return nil, payload end
  error(payload, 0)
end
local function params(...)
  local n, values = select("#", ...), {}
  for i = 1, n do
    local value = select(i, ...)
    values[i] = value == nil and null or value
  end
  return n == 0 and "[]" or encode(values)
end
function conn_methods.query(c, sql, ...)
  return db_answer(decode, call("db_query", open_conn(c), sql, params(...)))
end
function conn_methods.exec(c, sql, ...)
  return db_answer(tonumber, call("db_exec", open_conn(c), sql, params(...)))
end
function conn_methods.backup(c, dest)
  return db_answer(decode, call("db_backup", open_conn(c), dest, ""))
end
function conn_methods.transaction()
  error("conn:transaction is not available with isolation: process; run the job inline", 2)
end
function conn_methods.close(c) c.closed = true end
conn_meta.__close = conn_methods.close
conn_meta.__tostring = function(c) return "conn " .. c.name end

db = {}
function db.open(name, options)
  if type(name) ~= "string" then error("bad argument #1 to 'open' (string expected)", 2) end
  if options ~= nil and type(options) ~= "table" then error("db.open: options must be a table", 2) end
  -- Opening for real in the host checks allow.db and the host config now, as db.open does.
  local status, payload = call("db_query", name, "SELECT 1", "[]")
  if status == FAILED then return nil, payload end
  if status ~= OK then error(payload, 0) end
  return setmetatable({name = name}, conn_meta)
end
-- db.dump(name, {path =, format =, gzip =}): the host runs the dump, as db.dump does inline.
function db.dump(name, options)
  if type(name) ~= "string" then error("bad argument #1 to 'dump' (string expected)", 2) end
  if type(options) ~= "table" then error("db.dump: expected a table of options, got " .. type(options), 2) end
  return db_answer(decode, call("db_dump", name, encode(options), ""))
end
