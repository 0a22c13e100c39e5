#include <catch2/catch.hpp>

#include "schedule/cron_words.hpp"

using cronhost::schedule::cron_in_words;

TEST_CASE("common cron shapes in words, the rest as the expression", "[schedule][words]") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"0 2 * * *", "at 02:00 every day"},
      {"30 6,18 * * *", "at 06:30 and 18:30 every day"},
      {"0 9 * * MON-FRI", "at 09:00 on Monday to Friday"},
      {"0 9 * * 1,3", "at 09:00 on Monday and Wednesday"},
      {"0 0 1 * *", "at 00:00 on day 1 of every month"},
      {"0 23 L * *", "at 23:00 on the last day of every month"},
      {"*/15 * * * *", "every 15 minutes"},
      {"* * * * *", "every minute"},
      {"5 * * * *", "at minute 5 of every hour"},
      {"0 */6 * * *", "at minute 0 past every 6 hours"},
      {"0 0 9 * * SUN", "at 09:00 on Sunday"},               // seconds first
      {"30 0 9 * * *", "cron 30 0 9 * * *"},                  // a second other than 0
      {"0 0 1 1 *", "at 00:00 on day 1 of January"},
      {"0 9 * JAN,JUL *", "at 09:00 every day in January and July"},
      {"0 9 * 6 MON", "at 09:00 on Monday in June"},
      {"0 9 * 13 *", "cron 0 9 * 13 *"},                      // not a month: as written
      {"0 9 * 1-3 *", "cron 0 9 * 1-3 *"},                    // month ranges: as written
      {"H 2 * * *", "cron H 2 * * *"},                        // hashed: as written
      {"0 9 15W * *", "cron 0 9 15W * *"},
  };
  for (const auto& [expression, words] : table) {
    INFO(expression);
    CHECK(cron_in_words(expression) == words);
  }
}
