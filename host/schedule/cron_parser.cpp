#include "schedule/cron_parser.hpp"

#include <array>
#include <cctype>
#include <optional>
#include <vector>

#include "schedule/cron_names.hpp"

namespace cronhost::schedule {
namespace {

enum class FieldKind { kSecond, kMinute, kHour, kDayOfMonth, kMonth, kDayOfWeek };

struct FieldSpec {
  FieldKind kind;
  const char* name;
  int min, max;
  int hash_min, hash_max;  // the default range of a bare H (days stop at 28: every month has them)
};

constexpr FieldSpec kSecond{FieldKind::kSecond, "second", 0, 59, 0, 59};
constexpr FieldSpec kMinute{FieldKind::kMinute, "minute", 0, 59, 0, 59};
constexpr FieldSpec kHour{FieldKind::kHour, "hour", 0, 23, 0, 23};
constexpr FieldSpec kDayOfMonth{FieldKind::kDayOfMonth, "day-of-month", 1, 31, 1, 28};
constexpr FieldSpec kMonth{FieldKind::kMonth, "month", 1, 12, 1, 12};
constexpr FieldSpec kDayOfWeek{FieldKind::kDayOfWeek, "day-of-week", 0, 7, 0, 6};


struct Macro {
  const char* name;
  const char* expansion;
};
constexpr Macro kMacros[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                             {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                             {"@hourly", "0 * * * *"}};

// A stable stream of numbers from the job name: FNV-1a then splitmix64. Each H in an
// expression takes the next number, so "H H * * *" spreads minute and hour independently.
// Never change this: it would move every H job.
class NameHash {
 public:
  explicit NameHash(std::string_view name) {
    state_ = 0xcbf29ce484222325ULL;
    for (unsigned char c : name) state_ = (state_ ^ c) * 0x100000001b3ULL;
  }
  int next(int n) {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<int>(z % static_cast<uint64_t>(n));
  }

 private:
  uint64_t state_;
};

struct ParseFailure {
  std::string message;
  size_t offset;
};

// Parses one field; `base` is the field's offset in the whole expression.
class FieldParser {
 public:
  FieldParser(const FieldSpec& spec, std::string_view text, size_t base, NameHash& hash, DayRule& days)
      : spec_(spec), text_(text), base_(base), hash_(hash), days_(days) {}

  // Returns the set of plain values (bits) or a failure.
  std::optional<ParseFailure> parse(uint64_t& bits) {
    size_t start = 0;
    while (start <= text_.size()) {
      size_t comma = text_.find(',', start);
      if (comma == std::string_view::npos) comma = text_.size();
      item_start_ = start;
      if (auto failure = parse_item(text_.substr(start, comma - start), bits)) return failure;
      start = comma + 1;
    }
    return std::nullopt;
  }

 private:
  ParseFailure fail(const std::string& why, size_t at_in_item = 0) const {
    return {std::string(spec_.name) + " field \"" + std::string(text_.substr(0, 64)) + "\": " + why,
            base_ + item_start_ + at_in_item};
  }

  std::string range_text() const { return std::to_string(spec_.min) + "-" + std::to_string(spec_.max); }

  std::string expected_values() const {
    switch (spec_.kind) {
      case FieldKind::kMonth: return "1-12 or JAN-DEC";
      case FieldKind::kDayOfWeek: return "0-7 or SUN-SAT";
      default: return range_text();
    }
  }

  // A number or (for months and weekdays) a name.
  std::optional<ParseFailure> value(std::string_view item, size_t at, int& out) const {
    if (item.empty()) return fail("a value is missing, expected " + expected_values(), at);
    if (std::isdigit(static_cast<unsigned char>(item[0]))) {
      if (item.size() > 4) return fail(std::string(item) + " is out of range " + range_text(), at);
      int v = 0;
      for (char c : item) {
        if (!std::isdigit(static_cast<unsigned char>(c)))
          return fail("\"" + std::string(item) + "\" is not a number, expected " + expected_values(), at);
        v = v * 10 + (c - '0');
      }
      if (v < spec_.min || v > spec_.max) return fail(std::to_string(v) + " is out of range " + range_text(), at);
      out = v;
      return std::nullopt;
    }
    std::string upper;
    for (char c : item) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (spec_.kind == FieldKind::kMonth)
      for (size_t i = 0; i < kMonthNames.size(); ++i)
        if (upper == kMonthNames[i]) return out = static_cast<int>(i) + 1, std::nullopt;
    if (spec_.kind == FieldKind::kDayOfWeek)
      for (size_t i = 0; i < kDayNames.size(); ++i)
        if (upper == kDayNames[i]) return out = static_cast<int>(i), std::nullopt;
    return fail("unknown value \"" + std::string(item.substr(0, 32)) + "\", expected " + expected_values(), at);
  }

  std::optional<ParseFailure> step_value(std::string_view text, size_t at, int& step) const {
    if (text.empty()) return fail("a step is missing after '/'", at);
    if (text.size() > 4 || text.find_first_not_of("0123456789") != std::string_view::npos)
      return fail("step \"" + std::string(text.substr(0, 16)) + "\" must be a number from 1 to " +
                      std::to_string(spec_.max - spec_.min + 1),
                  at);
    step = std::stoi(std::string(text));
    if (step < 1 || step > spec_.max - spec_.min + 1)
      return fail("step " + std::to_string(step) + " is out of range 1-" + std::to_string(spec_.max - spec_.min + 1),
                  at);
    return std::nullopt;
  }

  // Adds lo..hi every `step`; a range whose start is above its end (22-2, FRI-MON) wraps
  // through the end of the cycle.
  void add_range(uint64_t& bits, int lo, int hi, int step) const {
    const int top = spec_.kind == FieldKind::kDayOfWeek && lo > hi ? 6 : spec_.max;
    const int span = top - spec_.min + 1;
    const int count = lo <= hi ? hi - lo : hi - lo + span;
    for (int i = 0; i <= count; i += step) {
      const int v = lo + i > top ? lo + i - span : lo + i;
      bits |= uint64_t{1} << v;
    }
  }

  bool is_day_field() const {
    return spec_.kind == FieldKind::kDayOfMonth || spec_.kind == FieldKind::kDayOfWeek;
  }

  std::optional<ParseFailure> parse_item(std::string_view item, uint64_t& bits) {
    if (item.empty()) return fail("empty list item (two commas in a row, or a trailing comma?)");
    std::string upper;
    for (char c : item) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

    if (upper == "?") {
      if (!is_day_field()) return fail("'?' is allowed only in day-of-month and day-of-week");
      bits |= full_range();
      return std::nullopt;
    }
    if (spec_.kind == FieldKind::kDayOfMonth) {
      if (upper == "L") return days_.last_day_offsets |= 1, std::nullopt;
      if (upper == "LW") return days_.last_weekday = true, std::nullopt;
      if (upper.rfind("L-", 0) == 0) {
        int k = 0;
        if (upper.size() > 4 || upper.size() == 2 || upper.find_first_not_of("0123456789", 2) != std::string::npos ||
            (k = std::stoi(upper.substr(2))) > 30)
          return fail("\"" + std::string(item) + "\": expected L-n with n from 0 to 30 (days before the last)");
        days_.last_day_offsets |= uint32_t{1} << k;
        return std::nullopt;
      }
      if (upper.size() >= 2 && upper.back() == 'W') {
        int day = 0;
        if (auto f = value(item.substr(0, item.size() - 1), 0, day)) return f;
        days_.nearest_weekdays |= uint32_t{1} << day;
        return std::nullopt;
      }
    }
    if (spec_.kind == FieldKind::kDayOfWeek) {
      if (upper == "L")
        return fail("a bare 'L' is ambiguous in day-of-week; write the weekday before it, e.g. 5L, FRIL or FRI#L for "
                    "the last Friday");
      if (std::optional<ParseFailure> failure; parse_nth_weekday(item, upper, failure)) return failure;
    }
    if (upper == "L" || upper == "LW" || upper.find('#') != std::string::npos ||
        (upper.back() == 'W' && std::isdigit(static_cast<unsigned char>(upper[0]))))
      return fail("\"" + std::string(item.substr(0, 16)) + "\" is not allowed in the " + spec_.name +
                  " field (L and W belong in day-of-month, nL and # in day-of-week)");

    // [range or * or H][/step]
    std::string_view range = item;
    int step = 1;
    bool has_step = false;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      if (auto f = step_value(item.substr(slash + 1), slash + 1, step)) return f;
      has_step = true;
    }
    int lo = spec_.min, hi = spec_.max;
    if (spec_.kind == FieldKind::kDayOfWeek) hi = 6;
    if (range == "*") {
      // full range
    } else if (!range.empty() && (range[0] == 'H' || range[0] == 'h')) {
      if (auto f = parse_hash(range, has_step, step, lo, hi)) return f;
    } else if (size_t dash = range.find('-'); dash != std::string_view::npos) {
      if (auto f = value(range.substr(0, dash), 0, lo)) return f;
      if (auto f = value(range.substr(dash + 1), dash + 1, hi)) return f;
    } else {
      if (auto f = value(range, 0, lo)) return f;
      if (!has_step) hi = lo;  // "10/20" means 10 to the end, every 20
      else if (spec_.kind == FieldKind::kDayOfWeek) hi = 6;
    }
    if (spec_.kind == FieldKind::kDayOfWeek && lo == 7 && hi != 7) lo = 0;  // 7-2 is SUN-TUE
    add_range(bits, lo, hi, step);
    if (bits >> 7 & 1 && spec_.kind == FieldKind::kDayOfWeek) bits = (bits & ~uint64_t{0x80}) | 1;  // 7 is Sunday
    return std::nullopt;
  }

  // Day-of-week items about one weekday of the month: FRI#3 (the third Friday), and the last
  // one written three ways: 5L and FRIL (Quartz) or FRI#L (croner). False when the item is
  // none of these; true when it is one, with `failure` set if it is malformed.
  bool parse_nth_weekday(std::string_view item, const std::string& upper, std::optional<ParseFailure>& failure) {
    const size_t hash_at = upper.find('#');
    const bool last = hash_at == std::string::npos ? upper.size() >= 2 && upper.back() == 'L'
                                                   : upper.compare(hash_at + 1, std::string::npos, "L") == 0;
    if (hash_at == std::string::npos && !last) return false;
    const std::string_view weekday = item.substr(0, hash_at == std::string::npos ? item.size() - 1 : hash_at);
    const std::string quoted = "\"" + std::string(item.substr(0, 32)) + "\": ";
    int w = 0;
    const std::string_view nth = hash_at == std::string::npos ? std::string_view() : item.substr(hash_at + 1);
    if (weekday.empty()) {
      failure = fail(quoted + "a weekday is missing before '#', e.g. FRI#3 or FRI#L");
    } else if (weekday.find_first_of("-/*") != std::string_view::npos) {
      failure = hash_at == std::string::npos
                    ? fail(quoted + "'L' follows a single weekday, not a range or step; list them instead, e.g. MONL,FRIL")
                    : fail(quoted + "'#' follows a single weekday, not a range or step; list them instead, e.g. MON#L,FRI#L");
    } else if ((failure = value(weekday, 0, w))) {
      // an unknown weekday, named by value()
    } else if (last) {
      days_.last_weekdays |= uint8_t(1u << (w % 7));
    } else if (nth.size() != 1 || nth[0] < '1' || nth[0] > '5') {
      failure = fail(quoted + "the number after '#' must be 1-5 (which weekday of the month) or L (the last)", hash_at + 1);
    } else {
      days_.nth_weekdays |= uint64_t{1} << ((nth[0] - '1') * 7 + w % 7);
    }
    return true;
  }

  // H, H(a-b), H/n, H(a-b)/n: a value from the name hash within the range.
  std::optional<ParseFailure> parse_hash(std::string_view range, bool has_step, int step, int& lo, int& hi) {
    lo = spec_.hash_min;
    hi = spec_.hash_max;
    if (range.size() > 1) {
      if (range[1] != '(' || range.back() != ')')
        return fail("\"" + std::string(range.substr(0, 32)) + "\": expected H, H(a-b), H/n or H(a-b)/n");
      std::string_view inner = range.substr(2, range.size() - 3);
      size_t dash = inner.find('-');
      if (dash == std::string_view::npos) return fail("H(...) needs a range such as H(0-29)", 2);
      if (auto f = value(inner.substr(0, dash), 2, lo)) return f;
      if (auto f = value(inner.substr(dash + 1), 2 + dash + 1, hi)) return f;
      if (lo > hi) return fail("H(" + std::string(inner) + "): the range must go upwards", 2);
    }
    if (has_step) {
      lo += hash_.next(std::min(step, hi - lo + 1));
    } else {
      lo += hash_.next(hi - lo + 1);
      hi = lo;
    }
    return std::nullopt;
  }

  uint64_t full_range() const {
    uint64_t bits = 0;
    for (int v = spec_.min; v <= std::min(spec_.max, spec_.kind == FieldKind::kDayOfWeek ? 6 : spec_.max); ++v)
      bits |= uint64_t{1} << v;
    return bits;
  }

  const FieldSpec& spec_;
  std::string_view text_;
  size_t base_;
  NameHash& hash_;
  DayRule& days_;
  size_t item_start_ = 0;
};

struct Field {
  std::string_view text;
  size_t offset;
};

bool starts_wild(std::string_view field) {
  return !field.empty() && (field[0] == '*' || ((field[0] == 'H' || field[0] == 'h') && field.find('/') != field.npos));
}

}  // namespace

Result<CronExpr> parse_cron(std::string_view text, std::string_view job_name, CronParseError* error) {
  const auto failure = [&](std::string message, size_t offset) {
    if (error) *error = {message, offset};
    return Result<CronExpr>::error(std::move(message));
  };
  if (text.size() > kMaxCronLength)
    return failure("cron expression is too long (" + std::to_string(text.size()) + " characters, at most " +
                       std::to_string(kMaxCronLength) + ")",
                   0);
  size_t lead = 0;
  while (lead < text.size() && std::isspace(static_cast<unsigned char>(text[lead]))) ++lead;
  if (lead < text.size() && text[lead] == '@') {
    size_t end = text.find_last_not_of(" \t\r\n") + 1;
    std::string_view macro = text.substr(lead, end - lead);
    for (const Macro& m : kMacros)
      if (macro == m.name) return parse_cron(m.expansion, job_name, error);
    return failure("unknown macro \"" + std::string(macro.substr(0, 32)) +
                       "\", expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly",
                   lead);
  }

  std::vector<Field> fields;
  for (size_t i = 0; i < text.size();) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i == text.size()) break;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    fields.push_back({text.substr(start, i - start), start});
    if (fields.size() > 7) break;
  }
  if (fields.empty()) return failure("empty cron expression, expected 5 fields such as \"0 6 * * *\"", 0);
  if (fields.size() != 5 && fields.size() != 6)
    return failure("expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got " +
                       (fields.size() > 7 ? std::string("more than 7") : std::to_string(fields.size())),
                   fields.size() > 6 ? fields[6].offset : fields.back().offset);

  const bool has_seconds = fields.size() == 6;
  const FieldSpec* specs_6[] = {&kSecond, &kMinute, &kHour, &kDayOfMonth, &kMonth, &kDayOfWeek};
  const FieldSpec* const* specs = has_seconds ? specs_6 : specs_6 + 1;

  NameHash hash(job_name);
  DayRule days;
  uint64_t bits[6] = {};
  uint64_t* out = has_seconds ? bits : bits + 1;
  for (size_t i = 0; i < fields.size(); ++i) {
    FieldParser parser(*specs[i], fields[i].text, fields[i].offset, hash, days);
    if (auto f = parser.parse(out[i])) return failure(f->message, f->offset);
  }
  if (!has_seconds) bits[0] = 1;  // second 0

  CronExpr expr;
  expr.seconds = bits[0];
  expr.minutes = bits[1];
  expr.hours = static_cast<uint32_t>(bits[2]);
  days.days_of_month = static_cast<uint32_t>(bits[3]);
  expr.months = static_cast<uint16_t>(bits[4]);
  days.weekdays = static_cast<uint8_t>(bits[5]);

  const Field& dom = fields[has_seconds ? 3 : 2];
  const Field& dow = fields[has_seconds ? 5 : 4];
  days.dom_unrestricted = dom.text[0] == '*' || dom.text == "?";
  days.dow_unrestricted = dow.text[0] == '*' || dow.text == "?";
  expr.set_days(days);

  expr.fixed_time = !starts_wild(fields[has_seconds ? 1 : 0].text) && !starts_wild(fields[has_seconds ? 2 : 1].text);
  if (has_seconds && starts_wild(fields[0].text)) expr.fixed_time = false;
  return expr;
}

}  // namespace cronhost::schedule
