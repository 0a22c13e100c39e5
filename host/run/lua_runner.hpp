// Runs one Lua job in a fresh sandbox and says how it ended. Never throws for anything the
// script does: a script's failure is the run's data.
#pragma once
#include "run/run_context.hpp"

namespace cronhost::run {

// The script's top level is the job. It may `return` a value (stored as the run's JSON
// result); error(...) or an uncaught error fails the run with the message and a traceback.
RunResult run_lua(RunContext& context);

}  // namespace cronhost::run
