// The wall clock as Unix milliseconds: the unit of every time in the state file and the API.
#pragma once
#include <chrono>
#include <cstdint>

namespace cronhost {

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace cronhost
