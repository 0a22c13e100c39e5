// log and print: lines into the run's captured output and into the host log.
//
//   log.info("backed up ", n, " tables")   -- "[info] backed up 12 tables"
//   print("plain line")                      -- into the run's output only
//
// Arguments are joined with tostring(); secrets are shown as ***; output beyond the run's cap
// is cut and marked.
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

std::string join_arguments(lua_State* L, const char* separator) {
  std::string line;
  const int n = lua_gettop(L);
  for (int i = 1; i <= n; ++i) {
    size_t len = 0;
    const char* s = luaL_tolstring(L, i, &len);
    if (i > 1) line += separator;
    line.append(s, len);
    lua_pop(L, 1);
  }
  return line;
}

template <const char* kLevel>
int log_line(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const std::string message = ctx.redact(join_arguments(L, ""));
  ctx.log_line(kLevel, message);
  return 0;
}

int print(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  ctx.output.append(ctx.redact(join_arguments(L, "\t")) + "\n");
  return 0;
}

constexpr char kDebug[] = "debug";
constexpr char kInfo[] = "info";
constexpr char kWarn[] = "warn";
constexpr char kError[] = "error";

const luaL_Reg kLogFunctions[] = {{"debug", log_line<kDebug>},
                                  {"info", log_line<kInfo>},
                                  {"warn", log_line<kWarn>},
                                  {"error", log_line<kError>},
                                  {nullptr, nullptr}};

}  // namespace

void open_log(lua_State* L) {
  luaL_newlib(L, kLogFunctions);
  lua_setglobal(L, "log");
}

void open_print(lua_State* L) {
  lua_pushcfunction(L, print);
  lua_setglobal(L, "print");
}

}  // namespace cronhost::bindings
