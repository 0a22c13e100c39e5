// json: encode and decode JSON text.
//
//   local text = json.encode({name = "app", tags = {"1.0", "1.1"}})   -- '{"name":"app","tags":["1.0","1.1"]}'
//   local value = json.decode('{"n": 3, "x": null}')                  -- value.n == 3, value.x == json.null
//
// Misuse (encoding a function, decoding non-JSON) raises an error naming the problem.
#include <cmath>

#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"

namespace cronhost::bindings {
namespace {

int json_null = 0;  // json.null is a light userdata of this address, the same in every state

void push_null(lua_State* L) { lua_pushlightuserdata(L, &json_null); }

// JSON text is UTF-8; a Lua string is any bytes. Checked here so dump() never throws.
bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 2) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

bool is_null(lua_State* L, int index) { return lua_islightuserdata(L, index) && lua_touserdata(L, index) == &json_null; }

int readonly_error(lua_State* L) { return luaL_error(L, "attempt to modify read-only table"); }

// next() over a read-only proxy's table: the script's global `next` may be anything.
int readonly_next(lua_State* L) {
  lua_settop(L, 2);
  if (lua_next(L, 1)) return 2;
  lua_pushnil(L);
  return 1;
}

// pairs() on a read-only proxy walks the real table.
int readonly_pairs(lua_State* L) {
  lua_pushcfunction(L, readonly_next);
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__index");
  lua_remove(L, -2);
  lua_pushnil(L);
  return 3;
}

int readonly_len(lua_State* L) {
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__index");
  lua_pushinteger(L, static_cast<lua_Integer>(lua_rawlen(L, -1)));
  return 1;
}

// The table a read-only proxy (job.params, job.event) reads from, pushed; false, nothing
// pushed, for any other table.
bool push_readonly_source(lua_State* L, int index) {
  if (!lua_getmetatable(L, index)) return false;
  lua_getfield(L, -1, "__newindex");
  const bool proxy = lua_tocfunction(L, -1) == readonly_error;
  lua_pop(L, 1);
  if (proxy) lua_getfield(L, -1, "__index");
  lua_remove(L, proxy ? -2 : -1);
  return proxy;
}

bool convert(lua_State* L, int index, nlohmann::json& out, std::string& error, int depth) {
  if (depth > kMaxJsonDepth) {
    error = "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels (a cycle?)";
    return false;
  }
  index = lua_absindex(L, index);
  switch (lua_type(L, index)) {
    case LUA_TNIL: out = nullptr; return true;
    case LUA_TBOOLEAN: out = lua_toboolean(L, index) != 0; return true;
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) {
        out = lua_tointeger(L, index);
      } else {
        const double d = lua_tonumber(L, index);
        if (!std::isfinite(d)) {
          error = "cannot encode NaN or infinity";
          return false;
        }
        out = d;
      }
      return true;
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, index, &len);
      if (!valid_utf8(std::string_view(s, len))) {
        error = "a string is not valid UTF-8 (JSON text must be; encode binary data first)";
        return false;
      }
      out = std::string(s, len);
      return true;
    }
    case LUA_TLIGHTUSERDATA:
      if (is_null(L, index)) {
        out = nullptr;
        return true;
      }
      break;
    case LUA_TTABLE: {
      luaL_checkstack(L, 4, "json");
      if (push_readonly_source(L, index)) {  // encode what the proxy shows, not the empty proxy
        const bool ok = convert(L, -1, out, error, depth);
        lua_pop(L, 1);
        return ok;
      }
      const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, index));
      size_t count = 0;
      bool string_keys = true;
      lua_pushnil(L);
      while (lua_next(L, index)) {
        ++count;
        if (lua_type(L, -2) != LUA_TSTRING) string_keys = false;
        lua_pop(L, 1);
      }
      if (count == 0) {
        out = nlohmann::json::object();
        return true;
      }
      if (n > 0 && static_cast<size_t>(n) == count) {
        out = nlohmann::json::array();
        for (lua_Integer i = 1; i <= n; ++i) {
          lua_rawgeti(L, index, i);
          nlohmann::json item;
          const bool ok = convert(L, -1, item, error, depth + 1);
          lua_pop(L, 1);
          if (!ok) return false;
          out.push_back(std::move(item));
        }
        return true;
      }
      if (!string_keys) {
        error = "a table mixes list items and keys, or has non-string keys";
        return false;
      }
      out = nlohmann::json::object();
      lua_pushnil(L);
      while (lua_next(L, index)) {
        nlohmann::json item;
        if (!convert(L, -1, item, error, depth + 1)) {
          lua_pop(L, 2);
          return false;
        }
        size_t key_len = 0;
        const char* key = lua_tolstring(L, -2, &key_len);
        if (!valid_utf8(std::string_view(key, key_len))) {
          lua_pop(L, 2);
          error = "a key is not valid UTF-8";
          return false;
        }
        out[key] = std::move(item);
        lua_pop(L, 1);
      }
      return true;
    }
    default: break;
  }
  error = std::string("cannot encode a ") + luaL_typename(L, index);
  return false;
}

void push_value(lua_State* L, const nlohmann::json& value, bool readonly, int depth) {
  luaL_checkstack(L, 4, "json");
  if (depth > kMaxJsonDepth) luaL_error(L, "JSON nested deeper than %d levels", kMaxJsonDepth);
  switch (value.type()) {
    case nlohmann::json::value_t::null: push_null(L); return;
    case nlohmann::json::value_t::boolean: lua_pushboolean(L, value.get<bool>()); return;
    case nlohmann::json::value_t::number_integer: lua_pushinteger(L, value.get<int64_t>()); return;
    case nlohmann::json::value_t::number_unsigned:
      lua_pushinteger(L, static_cast<lua_Integer>(value.get<uint64_t>()));
      return;
    case nlohmann::json::value_t::number_float: lua_pushnumber(L, value.get<double>()); return;
    case nlohmann::json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      return;
    }
    case nlohmann::json::value_t::array: {
      lua_createtable(L, static_cast<int>(value.size()), 0);
      lua_Integer i = 1;
      for (const auto& item : value) {
        push_value(L, item, readonly, depth + 1);
        lua_rawseti(L, -2, i++);
      }
      break;
    }
    case nlohmann::json::value_t::object: {
      lua_createtable(L, 0, static_cast<int>(value.size()));
      for (const auto& [key, item] : value.items()) {
        push_value(L, item, readonly, depth + 1);
        lua_setfield(L, -2, key.c_str());
      }
      break;
    }
    default: lua_pushnil(L); return;
  }
  if (!readonly) return;
  // Replace the table by an empty proxy whose metatable reads from it.
  lua_newtable(L);
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, readonly_error);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, readonly_pairs);
  lua_setfield(L, -2, "__pairs");
  lua_pushcfunction(L, readonly_len);
  lua_setfield(L, -2, "__len");
  lua_pushliteral(L, "read-only");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_remove(L, -2);
}

int json_encode(lua_State* L) {
  luaL_checkany(L, 1);
  nlohmann::json value;
  std::string error;
  if (!convert(L, 1, value, error, 0)) return luaL_argerror(L, 1, error.c_str());
  const std::string text = value.dump();
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

// Builds the decoded value straight on the Lua stack as the parser reads it, so every byte of
// it is allocated by the run's capped allocator (a JSON tree first would be allocated outside
// the cap: 440 MiB for a 24 MB array). Tables under construction sit on the stack; for an
// object, its pending key above it.
class LuaBuilder {
 public:
  explicit LuaBuilder(lua_State* L) : L_(L) {}
  const std::string& error() const { return error_; }

  bool null() { return value([&] { push_null(L_); }); }
  bool boolean(bool b) { return value([&] { lua_pushboolean(L_, b); }); }
  bool number_integer(int64_t n) { return value([&] { lua_pushinteger(L_, n); }); }
  bool number_unsigned(uint64_t n) { return value([&] { lua_pushinteger(L_, static_cast<lua_Integer>(n)); }); }
  bool number_float(double d, const std::string&) { return value([&] { lua_pushnumber(L_, d); }); }
  bool string(std::string& s) { return value([&] { lua_pushlstring(L_, s.data(), s.size()); }); }
  bool binary(nlohmann::json::binary_t&) { return fail("binary values are not JSON"); }
  bool start_object(size_t) { return open(false); }
  bool key(std::string& k) {
    lua_pushlstring(L_, k.data(), k.size());
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(size_t) { return open(true); }
  bool end_array() { return close(); }
  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception&) {
    return fail("not valid JSON (at byte " + std::to_string(position) + ")");
  }

 private:
  struct Open {
    bool array;
    lua_Integer next = 1;  // arrays: the index of the next item
  };

  template <typename Push>
  bool value(Push push) {
    luaL_checkstack(L_, 2, "json");
    push();
    return stored();
  }
  // Moves the value on top into the table being built (none: it is the result).
  bool stored() {
    if (open_.empty()) return true;
    if (open_.back().array) lua_rawseti(L_, -2, open_.back().next++);
    else lua_rawset(L_, -3);
    return true;
  }
  bool open(bool array) {
    if (open_.size() >= static_cast<size_t>(kMaxJsonDepth))
      return fail("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    luaL_checkstack(L_, 3, "json");
    lua_newtable(L_);
    open_.push_back({array});
    return true;
  }
  bool close() {
    open_.pop_back();
    return stored();
  }
  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  lua_State* L_;
  std::vector<Open> open_;  // at most kMaxJsonDepth
  std::string error_;
};

int json_decode(lua_State* L) {
  size_t len = 0;
  const char* text = luaL_checklstring(L, 1, &len);
  std::string error;
  if (!push_decoded_json(L, std::string_view(text, len), error)) return luaL_argerror(L, 1, error.c_str());
  return 1;
}

const luaL_Reg kJsonFunctions[] = {{"encode", json_encode}, {"decode", json_decode}, {nullptr, nullptr}};

}  // namespace

void push_json(lua_State* L, const nlohmann::json& value) { push_value(L, value, false, 0); }

bool push_decoded_json(lua_State* L, std::string_view text, std::string& error) {
  const int top = lua_gettop(L);
  LuaBuilder builder(L);
  if (nlohmann::json::sax_parse(text.begin(), text.end(), &builder)) return true;
  lua_settop(L, top);
  error = builder.error();
  return false;
}
void push_readonly_json(lua_State* L, const nlohmann::json& value) { push_value(L, value, true, 0); }

bool to_json(lua_State* L, int index, nlohmann::json& out, std::string& error) {
  return convert(L, index, out, error, 0);
}

void open_json(lua_State* L) {
  luaL_newlib(L, kJsonFunctions);
  push_null(L);
  lua_setfield(L, -2, "null");
  lua_setglobal(L, "json");
}

}  // namespace cronhost::bindings
