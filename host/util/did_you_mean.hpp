// Spelling suggestions for error messages ("unknown key 'shedule', did you mean 'schedule'?").
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace cronhost {

// The candidate closest to `word` by edit distance, or "" when none is close enough
// (distance at most 1/3 of the word's length, and at least 1 for short words).
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// ", did you mean 'x'?" or "" - ready to append to a message.
std::string did_you_mean_suffix(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace cronhost
