-- The host calls of native plugins (cronhost/plugin.h), served by the same Lua API scripts
-- use, so a plugin meets the same allowlists, argument checks, dry-run capture and messages.
-- Each function takes the call's strings and returns the reply's text, or nil, err when the
-- outside world failed; misuse raises. Runs in the plugin run's own sandboxed state.
local decode, encode = json.decode, json.encode

local function parse(text, what)
  if text == "" then return nil end
  local ok, value = pcall(decode, text)
  if not ok then error(what .. " is not JSON: " .. tostring(value), 0) end
  return value
end

local function object(text, what)
  local value = parse(text, what)
  if value == nil then return {} end
  if type(value) ~= "table" then error(what .. " must be a JSON object", 0) end
  return value
end

-- A JSON list (an empty Lua table would encode as {}), or nil, err from the call.
local function list(value, err)
  if value == nil then return nil, err end
  if next(value) == nil then return "[]" end
  return encode(value)
end

local function value_or_error(value, err)
  if value == nil and err ~= nil then return nil, err end
  if value == nil then return "null" end
  return encode(value)
end

-- One connection per database for the whole run, so a dry run's writes stay visible to its
-- later reads; closed with the state at the end of the run.
local conns = {}
local function conn(name)
  if conns[name] == nil then
    local c, err = db.open(name)
    if not c then return nil, err end
    conns[name] = c
  end
  return conns[name]
end

local function bound(text)
  local values = parse(text, "db: the parameters")
  if values == nil then return {} end
  if type(values) ~= "table" then error("db: the parameters must be a JSON array", 0) end
  return values
end

local file_ops = {
  list = function(a) return list(files.list(a.path, a.pattern)) end,
  stat = function(a) return value_or_error(files.stat(a.path)) end,
  read = function(a) return files.read(a.path, a.max_bytes and {max_bytes = a.max_bytes} or nil) end,
  write = function(a) return value_or_error(files.write(a.path, a.content)) end,
  remove = function(a) return value_or_error(files.remove(a.path)) end,
  gzip = function(a) return value_or_error(files.gzip(a.path, {remove_source = a.remove_source})) end,
  prune = function(a) return list(files.prune(a.path, {pattern = a.pattern, older_than = a.older_than, keep = a.keep})) end,
}

local approval_ops = {
  request = function(a) return value_or_error(approvals.request(a)) end,
  list = function(a) return list(approvals.list(a)) end,
  get = function(a) return value_or_error(approvals.get(a.id)) end,
  mark_executed = function(a) return value_or_error(approvals.mark_executed(a.id, a.notes)) end,
  mark_failed = function(a) return value_or_error(approvals.mark_failed(a.id, a.notes)) end,
  mark_superseded = function(a) return value_or_error(approvals.mark_superseded(a.id, a.notes)) end,
}

local function operation(table_, name, kind)
  local f = table_[name]
  if not f then
    local names = {}
    for k in pairs(table_) do names[#names + 1] = k end
    table.sort(names)
    error(kind .. ": unknown operation '" .. name .. "' (one of " .. table.concat(names, ", ") .. ")", 0)
  end
  return f
end

-- What isolated Lua runs reach through lua_call: the Lua API but db (its connections are
-- handles; they use db_query and friends) and job (sent once, as JSON).
local proxied = {state = true, mail = true, registry = true, approvals = true, semver = true, host = true, files = true,
                 http = true, log = true}

-- A result without its functions (an HTTP response's json method), which cannot cross.
local function plain(value)
  if type(value) ~= "table" then return value end
  local copy = {}
  for k, v in pairs(value) do
    if type(v) ~= "function" then copy[k] = plain(v) end
  end
  return copy
end

-- client.lua's packing: {n = count, v = {["1"] = first, ...}}, nil positions absent.
local function pack(packed)
  local values = {}
  for i = 1, packed.n do
    if packed[i] ~= nil then values[tostring(i)] = plain(packed[i]) end
  end
  return encode({n = packed.n, v = values})
end

return {
  lua_call = function(name, text)
    local module, fn = name:match("^([%a_]+)%.([%a_]+)$")
    local f = module and proxied[module] and _G[module][fn]
    if type(f) ~= "function" then error("no such function in the host API: " .. name, 0) end
    local packed = object(text, name .. ": the arguments")
    local n = math.tointeger(packed.n) or 0
    if n < 0 or n > 16 then error(name .. ": at most 16 arguments", 0) end  -- the API takes 3
    local args, values = {}, packed.v or {}
    for i = 1, n do args[i] = values[tostring(i)] end
    return pack(table.pack(f(table.unpack(args, 1, n))))
  end,

  state_get = function(key)
    local value, err = state.get(key)
    return value_or_error(value, err)
  end,
  state_put = function(key, text)
    local value = parse(text, "state_put: the value")
    if value == nil then error("state_put: the value is empty: give JSON text such as null", 0) end
    return value_or_error(state.put(key, value))
  end,
  state_delete = function(key) return value_or_error(state.delete(key)) end,

  http_request = function(text)
    local response, err = http.request(object(text, "http_request: the request"))
    if not response then return nil, err end
    response.json = nil
    return encode(response)
  end,
  mail_send = function(text) return value_or_error(mail.send(object(text, "mail_send: the message"))) end,

  db_query = function(name, sql, params)
    local c, err = conn(name)
    if not c then return nil, err end
    local values = bound(params)
    return list(c:query(sql, table.unpack(values, 1, #values)))
  end,
  db_exec = function(name, sql, params)
    local c, err = conn(name)
    if not c then return nil, err end
    local values = bound(params)
    local changes, exec_err = c:exec(sql, table.unpack(values, 1, #values))
    if not changes then return nil, exec_err end
    return tostring(changes)
  end,
  db_backup = function(name, dest)
    local c, err = conn(name)
    if not c then return nil, err end
    return value_or_error(c:backup(dest))
  end,

  files = function(op, text) return operation(file_ops, op, "files")(object(text, "files: the arguments")) end,

  registry_tags = function(image) return list(registry.tags(image)) end,
  registry_latest = function(image, text)
    local options = object(text, "registry_latest: the options")
    return registry.latest(image, next(options) and options or nil)
  end,

  approvals = function(op, text) return operation(approval_ops, op, "approvals")(object(text, "approvals: the arguments")) end,
}
