// Cron expression text -> CronExpr. Pure and thread-safe.
//
// Grammar: 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first);
// lists, ranges (wrapping ranges such as FRI-MON or 22-2 allowed), steps, JAN-DEC and
// SUN-SAT names, '?', 0 or 7 for Sunday, L, L-n, W, LW, nL, n#k, macros (@daily ...), and
// Jenkins-style H, H(a-b), H/n seeded by the job name.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "schedule/cron_expr.hpp"
#include "util/status.hpp"

namespace cronhost::schedule {

// Longer expressions are rejected before parsing; real ones are under 100 characters.
constexpr size_t kMaxCronLength = 1024;

struct CronParseError {
  std::string message;  // names the field and what was expected
  size_t offset = 0;    // where in the expression text the problem starts
};

// Parses `text`; `job_name` seeds H. On failure returns the error and, if `error` is
// given, fills it with the message and offset.
Result<CronExpr> parse_cron(std::string_view text, std::string_view job_name, CronParseError* error = nullptr);

}  // namespace cronhost::schedule
