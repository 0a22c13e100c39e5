-- The door of isolated Lua scripts (client.lua) to the Lua API: lua_call runs module.fn with
-- the script's arguments in the run's own sandboxed state here in the host, so the script
-- meets the same allowlists, argument checks, dry-run capture and messages as inline.
-- Returns the packed results; misuse raises. The C ABI's calls (and client.lua's db) do not
-- come here: plugin/host_calls.cpp serves them in C++.
local decode, encode = json.decode, json.encode

local function object(text, what)
  if text == "" then return {} end
  local ok, value = pcall(decode, text)
  if not ok then error(what .. " is not JSON: " .. tostring(value), 0) end
  if type(value) ~= "table" then error(what .. " must be a JSON object", 0) end
  return value
end

-- What isolated Lua runs reach through lua_call: the Lua API but db (its connections are
-- handles; they use db_query and friends) and job (sent once, as JSON).
local proxied = {state = true, mail = true, registry = true, approvals = true, semver = true, host = true, files = true,
                 http = true, log = true, storage = true}

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
}
