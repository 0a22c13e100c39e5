// A cron expression in words for people ("at 02:00 every day", "every 15 minutes"), for the
// common shapes; anything else comes back as "cron EXPR". Stateless.
#pragma once
#include <string>
#include <string_view>

namespace cronhost::schedule {

std::string cron_in_words(std::string_view expression);

}  // namespace cronhost::schedule
