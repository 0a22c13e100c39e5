#include "schedule/cron_words.hpp"

#include <sstream>
#include <vector>

#include "schedule/cron_names.hpp"

namespace cronhost::schedule {
namespace {

std::vector<std::string> split(std::string_view text, char by) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in{std::string(text)};
  while (std::getline(in, part, by))
    if (!part.empty()) parts.push_back(part);
  return parts;
}

bool is_number(const std::string& s) { return !s.empty() && s.size() <= 2 && s.find_first_not_of("0123456789") == std::string::npos; }

bool all_numbers(const std::vector<std::string>& items) {
  for (const auto& i : items)
    if (!is_number(i)) return false;
  return !items.empty();
}

std::string two_digits(const std::string& n) { return n.size() == 1 ? "0" + n : n; }

std::string join_and(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  return out;
}

const char* kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
const char* kMonths[] = {"January", "February", "March", "April", "May", "June", "July", "August", "September",
                         "October", "November", "December"};

// "1,7" or "JAN,JUL" -> "January and July"; empty when not a plain list of months.
std::string month_words(const std::string& field) {
  std::vector<std::string> words;
  for (const auto& item : split(field, ',')) {
    int month = -1;
    if (is_number(item)) month = std::stoi(item) - 1;
    for (int i = 0; i < 12; ++i) {
      std::string upper;
      for (char c : item) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (upper == kMonthNames[i]) month = i;
    }
    if (month < 0 || month > 11) return "";
    words.push_back(kMonths[month]);
  }
  return join_and(words);
}

// "1", "MON", "1-5", "MON-FRI" -> words; empty when not a plain day or range.
std::string day_words(const std::string& item) {
  const auto day = [](const std::string& d) -> int {
    if (is_number(d)) return std::stoi(d) <= 7 ? std::stoi(d) : -1;
    for (int i = 0; i < 7; ++i)
      if (d == kDayNames[i]) return i;
    return -1;
  };
  const size_t dash = item.find('-');
  if (dash == std::string::npos) {
    const int d = day(item);
    return d < 0 ? "" : kDays[d];
  }
  const int from = day(item.substr(0, dash)), to = day(item.substr(dash + 1));
  if (from < 0 || to < 0) return "";
  return std::string(kDays[from]) + " to " + kDays[to];
}

// The "on ..." part for the day-of-month and day-of-week fields; empty when not describable.
std::string days_words(const std::string& dom, const std::string& month, const std::string& dow, bool& ok) {
  if (month != "*") {  // "on day 1 of January", "every day in July"
    const std::string months = month_words(month);
    const std::string days = months.empty() ? "" : days_words(dom, "*", dow, ok);
    if (!ok || days.empty()) {
      ok = false;
      return "";
    }
    if (days == "every day") return "every day in " + months;
    const std::string suffix = " of every month";
    if (days.size() > suffix.size() && days.compare(days.size() - suffix.size(), suffix.size(), suffix) == 0)
      return days.substr(0, days.size() - suffix.size()) + " of " + months;
    return days + " in " + months;
  }
  if (dom == "*" && (dow == "*" || dow == "?")) return "every day";
  if ((dom == "*" || dom == "?") && dow != "*") {
    std::vector<std::string> words;
    for (const auto& item : split(dow, ',')) {
      std::string upper;
      for (char c : item) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const std::string w = day_words(upper);
      if (w.empty()) {
        ok = false;
        return "";
      }
      words.push_back(w);
    }
    return "on " + join_and(words);
  }
  if (dow == "*" || dow == "?") {
    if (dom == "L") return "on the last day of every month";
    const auto days = split(dom, ',');
    if (all_numbers(days)) return "on day " + join_and(days) + " of every month";
  }
  ok = false;
  return "";
}

}  // namespace

std::string cron_in_words(std::string_view expression) {
  auto fields = split(expression, ' ');
  const std::string fallback = "cron " + std::string(expression);
  if (fields.size() == 6) {  // seconds first
    if (fields[0] != "0") return fallback;
    fields.erase(fields.begin());
  }
  if (fields.size() != 5) return fallback;
  const std::string &minute = fields[0], &hour = fields[1];
  bool ok = true;
  const std::string days = days_words(fields[2], fields[3], fields[4], ok);
  if (!ok) return fallback;
  const std::string when = days == "every day" ? "" : " " + days;

  if (minute == "*" && hour == "*") return "every minute" + when;
  if (minute.rfind("*/", 0) == 0 && hour == "*" && is_number(minute.substr(2)))
    return "every " + minute.substr(2) + " minutes" + when;
  if (is_number(minute) && hour == "*") return "at minute " + minute + " of every hour" + when;
  if (is_number(minute) && hour.rfind("*/", 0) == 0 && is_number(hour.substr(2)))
    return "at minute " + minute + " past every " + hour.substr(2) + " hours" + when;
  const auto hours = split(hour, ',');
  if (is_number(minute) && all_numbers(hours)) {
    std::vector<std::string> times;
    for (const auto& h : hours) times.push_back(two_digits(h) + ":" + two_digits(minute));
    return "at " + join_and(times) + " " + days;
  }
  return fallback;
}

}  // namespace cronhost::schedule
