// Test helper: counts the bytes the program holds through operator new (the C++ side: not
// Lua's allocator, which uses realloc), so a test can tell whether work happened inside a
// run's Lua memory cap or outside it. Thread-safe.
#pragma once
#include <cstddef>

namespace cronhost::test {

size_t new_bytes_now();
// The most held since the last reset_new_peak().
size_t new_bytes_peak();
void reset_new_peak();

}  // namespace cronhost::test
