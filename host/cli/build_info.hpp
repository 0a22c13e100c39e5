// What this binary was built from: the version and the git commit. The commit lives in one
// generated file (build_info.cpp.in, cmake/service.cmake), so a new commit relinks the host
// and recompiles nothing else.
#pragma once

namespace cronhost::cli {

// The commit CMake was configured at (CRONHOST_COMMIT; git rev-parse --short=12 HEAD), or "unknown".
const char* build_commit();
// "cronhost VERSION (commit COMMIT)", what --version prints.
const char* version_line();

}  // namespace cronhost::cli
