// The sandbox's pattern functions (run/lua_pattern.cpp) against the stock Lua 5.4 string
// library, on a table of calls: same results, same types, same error messages, so the two
// cannot drift apart. (The hostile patterns are in lua_hostile_test.cpp.)
#include <catch2/catch.hpp>

#include <string>

#include "run/lua_base.hpp"

using namespace cronhost;

namespace {

// Lua that runs one expression under pcall and prints every result with its type, so two
// states can be compared as text.
constexpr const char* kShow = R"lua(
local function collect(iterator)
  local out = {}
  for a, b, c in iterator do out[#out + 1] = tostring(a) .. "," .. tostring(b) .. "," .. tostring(c) end
  return table.concat(out, ";")
end
local expression = ...
local f = assert(load("local collect = ...; return " .. expression))
local results = table.pack(pcall(f, collect))
local out = {}
for i = 1, results.n do out[#out + 1] = type(results[i]) .. ":" .. tostring(results[i]) end
return table.concat(out, " | ")
)lua";

class State {
 public:
  explicit State(bool bounded) : L_(luaL_newstate()) {
    if (bounded) {
      run::open_safe_libraries(L_);  // with the bounded pattern functions and guards
    } else {
      luaL_openlibs(L_);  // the stock library
    }
  }
  ~State() { lua_close(L_); }
  std::string show(const std::string& expression) {
    lua_settop(L_, 0);
    REQUIRE(luaL_loadstring(L_, kShow) == LUA_OK);
    lua_pushstring(L_, expression.c_str());
    if (lua_pcall(L_, 1, 1, 0) != LUA_OK) return std::string("harness error: ") + lua_tostring(L_, -1);
    return lua_tostring(L_, -1);
  }

 private:
  lua_State* L_;
};

const char* const kCalls[] = {
    // find: plain and pattern, init (negative, past the end), the plain flag
    R"~(string.find("hello world", "o w"))~",
    R"~(string.find("hello", "l+"))~",
    R"~(string.find("hello", "l", 1, true))~",
    R"~(string.find("a.b", ".", 1, true))~",
    R"~(string.find("a.b", "."))~",
    R"~(string.find("hello", "", 10))~",
    R"~(string.find("hello", "", 6))~",
    R"~(string.find("hello", "l", -2))~",
    R"~(string.find("hello", "h", -100))~",
    R"~(string.find("hello", "xyz", 0))~",
    R"~(string.find("", ""))~",
    R"~(string.find("aaa", "^a", 2))~",
    R"~(string.find("the cat", "%f[%w]%w+$"))~",
    R"~(string.find("key=val", "(%w+)=(%w+)"))~",
    R"~(string.find("a\0b", "\0"))~",
    R"~(string.find("a\0b", "b", 1, true))~",
    R"~(string.find(12345, 3))~",
    R"~(("abcabc"):find("c", 4))~",
    R"~(string.find("hello", "lo", 1, false))~",
    R"~(string.find("x", "x", 2))~",
    // match: captures, position captures, anchors, sets, classes, %b, %f, back references
    R"~(string.match("key = value", "(%w+)%s*=%s*(%w+)"))~",
    R"~(string.match("hello", "()ll()"))~",
    R"~(string.match("  trim me  ", "^%s*(.-)%s*$"))~",
    R"~(string.match("THE (quick) fox", "%((%a+)%)"))~",
    R"~(string.match("f(a(b)c)d", "%b()"))~",
    R"~(string.match("f(a(b)c", "%b()"))~",
    R"~(string.match("THE (quick) fox", "%f[%a]%a+", 5))~",
    R"~(string.match("hello", "^(h)(e)"))~",
    R"~(string.match("abcabc", "(abc)%1"))~",
    R"~(string.match("abcabd", "(abc)%1"))~",
    R"~(string.match("x=1, y=2", "y=(%d)"))~",
    R"~(string.match("[[x]]", "%[(%b[])%]"))~",
    R"~(string.match("a]b", "[]]"))~",
    R"~(string.match("a-b", "[a-]+"))~",
    R"~(string.match("a-b c", "[%a-]+"))~",
    R"~(string.match("ab cd", "[^%s]+"))~",
    R"~(string.match("2024-12-03", "(%d+)-(%d+)-(%d+)"))~",
    R"~(string.match("abc", "((a)(b))"))~",
    R"~(string.match("z", "%z"))~",
    R"~(string.match("a$b", "$b"))~",
    R"~(string.match("ab", "b$"))~",
    R"~(string.match("hello", ".-", 3))~",
    R"~(string.match("", ".*"))~",
    R"~(string.match("aXb", "%u"))~",
    R"~(string.match("a1 b2", "%D+"))~",
    R"~(string.match("a b\tc", "%S+%s+%S+"))~",
    R"~(string.match("0x1F", "0x(%x+)"))~",
    R"~(string.match("a.b,c", "%p"))~",
    R"~(string.match("hello", "l*"))~",
    R"~(string.match("hello", "hel?l?o"))~",
    R"~(string.match("heo", "hel?l?o"))~",
    R"~(string.match("abc", "a.-c"))~",
    R"~(string.match("abcbc", "a.*c"))~",
    R"~(string.match("<a><b>", "<(.-)>"))~",
    R"~(string.match("x", "()"))~",
    R"~(string.match("hello", "(h)(e)(l)(l)(o)"))~",
    R"~(string.match("ÿab", "[\200-\255]"))~",
    R"~(string.match("THE", "%f[%l]"))~",
    R"~(string.match("end", "%f[%z]"))~",
    R"~(string.match("aaa", "(a*(.)%w(%s*))"))~",
    R"~(string.match("-12.5e3", "^[+-]?%d+%.?%d*[eE]?%d*$"))~",
    // gmatch: captures, empty matches, init, '^' (not an anchor in gmatch)
    R"~(collect(string.gmatch("one two  three", "%a+")))~",
    R"~(collect(string.gmatch("a=1, b=2", "(%w+)=(%w+)")))~",
    R"~(collect(string.gmatch("abc", "")))~",
    R"~(collect(string.gmatch("hello world", "%a+", 3)))~",
    R"~(collect(string.gmatch("hello world", "%a+", -5)))~",
    R"~(collect(string.gmatch("hello", "%a+", 100)))~",
    R"~(collect(string.gmatch("^a^a", "^a")))~",
    R"~(collect(string.gmatch("abc", "()")))~",
    R"~(collect(("x y z"):gmatch("%a")))~",
    // gsub: string, table and function replacements, %0-%9, %%, counts, anchors, limits
    R"~(string.gsub("hello world", "o", "0"))~",
    R"~(string.gsub("hello world", "(o)", "[%1]"))~",
    R"~(string.gsub("hello world", "%w+", "%0 %0", 1))~",
    R"~(string.gsub("hello", "", "-"))~",
    R"~(string.gsub("abc", "%w", "%%"))~",
    R"~(string.gsub("$name is $age", "%$(%w+)", {name = "bob", age = 3}))~",
    R"~(string.gsub("$name is $x", "%$(%w+)", {name = "bob"}))~",
    R"~(string.gsub("abc", "%w", function(c) return c:upper() .. "." end))~",
    R"~(string.gsub("abc", "%w", function(c) if c == "b" then return false end return 1 end))~",
    R"~(string.gsub("abc", "x", function() return "never" end))~",
    R"~(string.gsub("abc", "()", "%1"))~",
    R"~(string.gsub("hello hello", "^h", "H"))~",
    R"~(string.gsub("abc", "(b)(c)", "%2%1"))~",
    R"~(string.gsub("abc", "b", 5))~",
    R"~(string.gsub("abc", "b", "%1"))~",
    R"~(string.gsub(123, "2", 9))~",
    R"~(string.gsub("abc", ".", {}, 2))~",
    R"~(string.gsub("abc", ".", "x", 0))~",
    R"~(string.gsub("abc", ".", "x", -1))~",
    R"~(string.gsub("a,b,,c", ",", ";"))~",
    R"~(string.gsub("hello", "l*", "x"))~",
    R"~(string.gsub("abc", "%w", function(...) return select("#", ...) end))~",
    R"~(string.gsub("abc", "(a)(b)", function(a, b) return b .. a end))~",
    R"~(string.gsub("x = 1", "(%w+) = (%w+)", "%2 = %1"))~",
    R"~(("abc"):gsub("b", "x"))~",
    // errors: the same messages
    R"~(string.find("a", "%"))~",
    R"~(string.find("a", "[a"))~",
    R"~(string.find("a", "[^"))~",
    R"~(string.find("a", "(a"))~",
    R"~(string.match("a", "a)"))~",
    R"~(string.match("a", "%1"))~",
    R"~(string.match("aa", "(a)%2"))~",
    R"~(string.match("a", "%f"))~",
    R"~(string.match("a", "%fa"))~",
    R"~(string.match("a", "%b"))~",
    R"~(string.match("a", "%ba"))~",
    R"~(string.match(("a"):rep(250), ("a?"):rep(250)))~",
    R"~(string.match("a", ("()"):rep(33)))~",
    R"~(string.match("a", ("()"):rep(32)))~",
    R"~(string.gsub("abc", ".", {a = true}))~",
    R"~(string.gsub("abc", "b", "%2"))~",
    R"~(string.gsub("abc", "b", "%x"))~",
    R"~(string.gsub("abc", "b", "x%"))~",
    R"~(string.gsub("abc", "b"))~",
    R"~(string.gsub("abc", "(b", "x"))~",
    R"~(string.gsub("abc", "b", function() return {} end))~",
    R"~(string.find(nil, "x"))~",
    R"~(string.match("x"))~",
    R"~(string.gmatch("x"))~",
    R"~(string.find("x", "x", "y"))~",
    R"~(("x"):gsub())~",
};

}  // namespace

TEST_CASE("the bounded pattern functions give what the stock string library gives", "[lua][pattern]") {
  State stock(false);
  State bounded(true);
  for (const char* call : kCalls) {
    INFO(call);
    CHECK(bounded.show(call) == stock.show(call));
  }
}

TEST_CASE("string.rep, table.move, table.concat and setmetatable keep the stock results", "[lua][pattern]") {
  State stock(false);
  State bounded(true);
  const char* const calls[] = {
      R"~(string.rep("ab", 3, ","))~",
      R"~(string.rep("ab", 0))~",
      R"~(string.rep("", 5))~",
      R"~(string.rep("", 5, ""))~",
      R"~(string.rep("", 3, "-"))~",
      R"~(string.rep("x", -1))~",
      R"~(string.rep())~",
      R"~(table.concat(table.move({1, 2, 3, 4, 5}, 2, 4, 1), ","))~",
      R"~(table.concat(table.move({1, 2, 3, 4, 5}, 1, 3, 3), ","))~",
      R"~(table.concat(table.move({1, 2, 3}, 1, 3, 2, {}), ",", 2, 4))~",
      R"~(table.concat(table.move({1, 2, 3}, 1, 0, 1, {9}), ","))~",
      R"~(table.move({}, 1, 2, 1, 5))~",
      R"~(table.move(nil, 1, 2, 1))~",
      R"~(table.move({}, 1, math.maxinteger, 2))~",
      R"~(table.move({}, -1, math.maxinteger, 2))~",
      R"~(#table.move(setmetatable({}, {__index = function(_, i) return i * 10 end}), 1, 3, 1, {}))~",
      R"~(table.concat({1, 2, "x"}, ", "))~",
      R"~(table.concat({1, 2, 3}, "-", 2))~",
      R"~(table.concat({1, 2, 3}, "-", 2, 1))~",
      R"~(table.concat({1, 2, 3}, "", 3, 3))~",
      R"~(table.concat({}))~",
      R"~(table.concat({1, {}, 3}))~",
      R"~(table.concat({1, 2}, 3))~",
      R"~(table.concat({1, 2}, "", 1, 5))~",
      R"~(table.concat(nil))~",
      R"~(table.concat("abc"))~",
      R"~(table.move("abc", 1, 2, 1, {})[1])~",
      R"~(table.move({1}, 1, 1, 1, "abc"))~",
      R"~(table.concat(setmetatable({}, {__index = function(_, i) return i end, __len = function() return 3 end})))~",
      R"~(setmetatable({}, {}) ~= nil)~",
      R"~(getmetatable(setmetatable({}, {__index = {x = 1}})).__index.x)~",
      R"~(setmetatable(1, {}))~",
      R"~(setmetatable({}, 1))~",
      R"~(setmetatable(setmetatable({}, {__metatable = "locked"}), {}))~",
  };
  for (const char* call : calls) {
    INFO(call);
    CHECK(bounded.show(call) == stock.show(call));
  }
}
