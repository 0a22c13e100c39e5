// How the state file's writes are doing, for /health and /metrics. Plain data.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace cronhost::store {

struct WriteHealth {
  uint64_t failed_commits = 0;   // in this failure streak; 0: none (a streak ends with a
                                 // commit that writes and succeeds 5 s after the last failure)
  int64_t failing_since_ms = 0;  // when the streak began (Unix ms); 0: not failing
  int64_t last_failure_ms = 0;   // the last failed commit or claim (Unix ms); 0: none yet
  std::string last_error;        // of the last failed commit
  size_t retained = 0;           // posted writes waiting for their retry
  uint64_t lost = 0;             // posted writes given up on since the start
};

}  // namespace cronhost::store
