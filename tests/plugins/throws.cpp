// throws.cpp: a C++ test plugin whose run throws std::runtime_error("boom from C++"); the
// plugin.hpp boundary must turn it into a failed run with that message.
#include <stdexcept>

#include <cronhost/plugin.hpp>

namespace {

void run(cronhost::Host&) { throw std::runtime_error("boom from C++"); }

}  // namespace

CRONHOST_PLUGIN("throws", "1.0.0", "Throws a C++ exception", run)
