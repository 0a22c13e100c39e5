// The names cron accepts for months and weekdays, for the parser and the English description.
#pragma once
#include <array>

namespace cronhost::schedule {

inline constexpr std::array<const char*, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                            "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
inline constexpr std::array<const char*, 7> kDayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

}  // namespace cronhost::schedule
