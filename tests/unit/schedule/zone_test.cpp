// Zones read from the tz database's TZif files: the same tables cctz gives for every zone
// installed, the TZ-string rules after a file's last transition, and files that are damaged.
#include <catch2/catch.hpp>

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>
#include <sys/stat.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "schedule/posix_tz.hpp"
#include "schedule/tzif.hpp"
#include "schedule/zone.hpp"
#include "util/civil.hpp"
#include "../support/temp_dir.hpp"

using namespace cronhost;
using namespace cronhost::schedule;
namespace fs = std::filesystem;

namespace {

struct Change {
  int64_t at;
  int32_t offset;
  bool operator==(const Change& o) const { return at == o.at && offset == o.offset; }
};
std::ostream& operator<<(std::ostream& os, const Change& c) { return os << "{" << c.at << ", " << c.offset << "}"; }

constexpr int64_t kStart = -5364662400;  // 1800-01-01T00:00:00Z, where the zone tables begin
constexpr int64_t kStop = 16756761599;   // 2500-12-31T23:59:59Z, where they end

// The table as a Zone gives it: the offset at kStart, then every change up to kStop.
std::vector<Change> table_of(const Zone& zone) {
  std::vector<Change> table{{kStart, zone.offset_at(kStart)}};
  for (auto s = zone.segment_at(kStart); s.end <= kStop; s = zone.segment_at(s.end))
    table.push_back({s.end, zone.segment_at(s.end).offset});
  return table;
}

// The oracle: the same table built by asking cctz (how cronhost built it before it read TZif
// files itself).
struct CctzTable {
  cctz::time_zone tz;
  std::vector<Change> table;

  int32_t offset_at(int64_t t) const {
    const auto epoch = std::chrono::time_point_cast<cctz::seconds>(std::chrono::system_clock::from_time_t(0));
    return tz.lookup(epoch + cctz::seconds(t)).offset;
  }
};

std::optional<CctzTable> cctz_table(const std::string& name) {
  CctzTable oracle;
  if (!cctz::load_time_zone(name, &oracle.tz)) return std::nullopt;
  const auto& tz = oracle.tz;
  auto unix_seconds = [](const cctz::time_point<cctz::seconds>& tp) { return int64_t{tp.time_since_epoch().count()}; };
  auto tp = cctz::convert(cctz::civil_second(1800, 1, 1, 0, 0, 0), cctz::utc_time_zone());
  oracle.table.push_back({kStart, tz.lookup(tp).offset});
  cctz::time_zone::civil_transition transition;
  while (tz.next_transition(tp, &transition)) {
    tp = tz.lookup(transition.to).trans;
    if (unix_seconds(tp) > kStop) break;
    const int32_t before = tz.lookup(tp - cctz::seconds(1)).offset, after = tz.lookup(tp).offset;
    if (before != after) oracle.table.push_back({unix_seconds(tp), after});
  }
  return oracle;
}

// cctz lists transitions only ~400 years past a file's last one (to ~2438), though its lookups
// follow the TZ string beyond: the table is compared entry by entry up to there, and after it
// each segment's offset is checked against cctz's lookups at its start, middle and end.
std::string compare_with(const std::vector<Change>& got, const CctzTable& oracle) {
  const std::vector<Change>& expected = oracle.table;
  const int64_t horizon = expected.back().at;
  std::ostringstream os;
  for (size_t i = 0; i < got.size() && got[i].at <= horizon; ++i) {
    if (i < expected.size() && got[i] == expected[i]) continue;
    os << "entry " << i << ": got " << got[i] << ", cctz ";
    if (i < expected.size()) os << expected[i]; else os << "nothing";
    return os.str();
  }
  const auto up_to_horizon = std::count_if(got.begin(), got.end(), [&](const Change& c) { return c.at <= horizon; });
  if (static_cast<size_t>(up_to_horizon) != expected.size()) {
    os << up_to_horizon << " entries up to " << horizon << ", cctz " << expected.size();
    return os.str();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const int64_t begin = got[i].at, end = i + 1 < got.size() ? got[i + 1].at : kStop;
    if (end <= horizon) continue;
    for (int64_t t : {std::max(begin, horizon), begin + (end - begin) / 2, end - 1})
      if (t >= horizon && oracle.offset_at(t) != got[i].offset) {
        os << "at " << t << ": got " << got[i].offset << ", cctz " << oracle.offset_at(t);
        return os.str();
      }
  }
  return "";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Points $TZDIR at a folder for one test and puts it back however the test ends.
class TzdirFor {
 public:
  explicit TzdirFor(const fs::path& dir) {
    if (const char* old = std::getenv("TZDIR")) saved_ = old;
    ::setenv("TZDIR", dir.c_str(), 1);
  }
  ~TzdirFor() { saved_ ? (void)::setenv("TZDIR", saved_->c_str(), 1) : (void)::unsetenv("TZDIR"); }
  TzdirFor(const TzdirFor&) = delete;
  TzdirFor& operator=(const TzdirFor&) = delete;

 private:
  std::optional<std::string> saved_;
};

int64_t utc(int64_t y, int m, int d, int hh, int mm) { return civil::days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60; }

// A TZif version 2 file with no transitions, one time type and this TZ string.
std::string footer_only_tzif(int32_t offset, const std::string& tz_string) {
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  auto header = [&](char version) {
    return "TZif" + std::string(1, version) + std::string(15, '\0') + be32(0) + be32(0) + be32(0) + be32(0) + be32(1) + be32(4);
  };
  const std::string block = be32(static_cast<uint32_t>(offset)) + std::string{'\1', '\0'} + std::string("ZZZ\0", 4);
  return header('2') + block + header('2') + block + "\n" + tz_string + "\n";
}

}  // namespace

TEST_CASE("every zone installed gives the table cctz gives, 1800 to 2500", "[zone][tzif]") {
  const fs::path dir = std::getenv("TZDIR") && *std::getenv("TZDIR") ? std::getenv("TZDIR") : "/usr/share/zoneinfo";
  REQUIRE(fs::is_directory(dir));
  size_t compared = 0, with_changes = 0, refused_by_both = 0;
  std::set<fs::path> seen;  // US/Eastern is America/New_York, posix/... the plain zones
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || !seen.insert(fs::canonical(entry.path())).second) continue;
    const std::string name = entry.path().lexically_relative(dir).string();
    if (name.find('.') != std::string::npos) continue;  // zone.tab, tzdata.zi, leap-seconds.list
    INFO(name);
    const auto expected = cctz_table(name);
    auto zone = Zone::load(name);
    if (!expected) {  // leap-second ("right/") zones and files that are not TZif
      CHECK_FALSE(zone);
      ++refused_by_both;
      continue;
    }
    REQUIRE(zone);
    const auto table = table_of(*zone.value());
    CHECK(compare_with(table, *expected) == "");
    ++compared;
    if (table.size() > 1) ++with_changes;
  }
  INFO("compared " << compared << ", with changes " << with_changes << ", refused " << refused_by_both);
  CHECK(compared > 300);
  CHECK(with_changes > 300);
}

TEST_CASE("the TZ string decides every year after a file's last transition", "[zone][tzif]") {
  test::TempDir dir;
  TzdirFor tzdir(dir.path());
  struct Case {
    std::string name, tz_string;
    int32_t offset;
    std::vector<Change> in_2026;
  };
  const std::vector<Case> cases = {
      {"Test/NewYork", "EST5EDT,M3.2.0,M11.1.0", -5 * 3600,
       {{utc(2026, 3, 8, 7, 0), -4 * 3600}, {utc(2026, 11, 1, 6, 0), -5 * 3600}}},
      // Southern hemisphere: the year starts in daylight time.
      {"Test/Adelaide", "ACST-9:30ACDT,M10.1.0,M4.1.0/3", 9 * 3600 + 1800,
       {{utc(2026, 4, 4, 16, 30), 9 * 3600 + 1800}, {utc(2026, 10, 3, 16, 30), 10 * 3600 + 1800}}},
      // Times past 24 h and below 0 (Israel, Nuuk), written as RFC 8536 allows.
      {"Test/Israel", "IST-2IDT,M3.4.4/26,M10.5.0", 2 * 3600,
       {{utc(2026, 3, 27, 0, 0), 3 * 3600}, {utc(2026, 10, 24, 23, 0), 2 * 3600}}},
      {"Test/Nuuk", "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", -2 * 3600,
       {{utc(2026, 3, 29, 1, 0), -1 * 3600}, {utc(2026, 10, 25, 1, 0), -2 * 3600}}},
      // Julian days, with and without February 29, and an explicit daylight offset.
      {"Test/Julian", "AAA3BBB1:30,J60/2,300/2", -3 * 3600,
       {{utc(2026, 3, 1, 5, 0), -3600 - 1800}, {utc(2026, 10, 28, 3, 30), -3 * 3600}}},
      // Daylight time all year: no change at all.
      {"Test/AllYear", "EST5EDT,0/0,J365/25", -4 * 3600, {}},
  };
  for (const auto& c : cases) {
    INFO(c.name << " " << c.tz_string);
    fs::create_directories(dir.path() / "Test");
    std::ofstream(dir.path() / c.name, std::ios::binary) << footer_only_tzif(c.offset, c.tz_string);
    auto zone = Zone::load(c.name);
    REQUIRE(zone);
    std::vector<Change> in_2026;
    for (const auto& change : table_of(*zone.value()))
      if (change.at >= utc(2026, 1, 1, 0, 0) && change.at < utc(2027, 1, 1, 0, 0)) in_2026.push_back(change);
    CHECK(in_2026 == c.in_2026);
    if (c.in_2026.empty()) CHECK(table_of(*zone.value()) == std::vector<Change>{{kStart, c.offset}});
  }
  // 2400 is a leap year, 2100 is not: the rule still lands on the right Sunday that far out.
  auto ny = Zone::load("Test/NewYork").value();
  CHECK(ny->offset_at(utc(2100, 3, 14, 6, 59)) == -5 * 3600);
  CHECK(ny->offset_at(utc(2100, 3, 14, 7, 0)) == -4 * 3600);
  CHECK(ny->offset_at(utc(2400, 3, 12, 7, 0)) == -4 * 3600);
  CHECK(ny->offset_at(utc(2400, 3, 12, 6, 59)) == -5 * 3600);
  // In a leap year "J60" is still March 1 (February 29 is not counted), "300" a day earlier.
  auto julian = Zone::load("Test/Julian").value();
  CHECK(julian->offset_at(utc(2028, 3, 1, 4, 59)) == -3 * 3600);
  CHECK(julian->offset_at(utc(2028, 3, 1, 5, 0)) == -5400);
  CHECK(julian->offset_at(utc(2028, 10, 27, 3, 29)) == -5400);
  CHECK(julian->offset_at(utc(2028, 10, 27, 3, 30)) == -3 * 3600);
}

TEST_CASE("a damaged zone file is refused with its path and what is wrong, never read past its end", "[zone][tzif]") {
  const std::string london = read_file("/usr/share/zoneinfo/Europe/London");
  REQUIRE(london.size() > 1000);
  REQUIRE(read_tzif(london));
  // Every prefix of a real file, down to the one that lacks only the final newline: an error.
  for (size_t n = 0; n < london.size(); ++n) {
    INFO(n);
    CHECK_FALSE(read_tzif(london.substr(0, n)));
  }
  CHECK(read_tzif("TZif").message() == "cut short in a header");
  CHECK(read_tzif(std::string(60, 'x')).message() == "no TZif magic");
  {
    // The 64-bit block's first transition names a time type the file lacks.
    auto count = [&](size_t header, int i) {
      const auto* p = reinterpret_cast<const unsigned char*>(london.data()) + header + 20 + 4 * i;
      return size_t{p[0]} << 24 | size_t{p[1]} << 16 | size_t{p[2]} << 8 | p[3];
    };
    const size_t v1_block = count(0, 3) * 5 + count(0, 4) * 6 + count(0, 5) + count(0, 2) * 8 + count(0, 1) + count(0, 0);
    const size_t v2_header = 44 + v1_block;
    std::string bad_index = london;
    bad_index[v2_header + 44 + 8 * count(v2_header, 3)] = '\x7f';
    CHECK(read_tzif(bad_index).message() == "a transition names a time type it lacks");
    std::string out_of_order = london;
    out_of_order.replace(v2_header + 44 + 8, 8, out_of_order.substr(v2_header + 44, 8));  // the second = the first
    CHECK(read_tzif(out_of_order).message() == "transitions out of order");
  }
  CHECK(read_tzif(footer_only_tzif(0, "nonsense")).message() == "a TZ string that does not parse: nonsense");
  CHECK(read_tzif(footer_only_tzif(3600, "UTC0")).message() == "the TZ string UTC0 disagrees with the last transition");
  CHECK(read_tzif(footer_only_tzif(26 * 3600, "<+26>-26")).message() == "a UTC offset of 93600 seconds");
  {
    // Version 1: 32-bit times and no TZ string. One transition, 2001-09-09T01:46:40Z, to +02:00.
    const std::string v2 = footer_only_tzif(0, "");
    std::string v1 = v2.substr(0, 44);
    v1[4] = '\0';
    v1[35] = 1;  // timecnt
    v1[39] = 2;  // typecnt
    v1 += std::string("\x3b\x9a\xca\x00", 4) + '\1';                         // the time, its type
    v1 += std::string(4, '\0') + std::string{'\0', '\0'};                       // type 0: UTC
    v1 += std::string("\x00\x00\x1c\x20", 4) + std::string{'\0', '\0'};       // type 1: +7200
    v1 += std::string("ZZZ\0", 4);
    auto zone = read_tzif(v1);
    REQUIRE(zone);
    CHECK(zone->initial_offset == 0);
    CHECK(zone->times == std::vector<int64_t>{1000000000});
    CHECK(zone->offsets == std::vector<int32_t>{7200});
    CHECK_FALSE(zone->footer);
    std::string no_types = v1;
    no_types[39] = 0;
    CHECK(read_tzif(no_types).message() == "inconsistent counts in the header");
  }
  CHECK(read_tzif(footer_only_tzif(0, "EST5EDT")).message() == "a TZ string that does not parse: EST5EDT");
  if (fs::exists("/usr/share/zoneinfo/right/UTC"))
    CHECK(read_tzif(read_file("/usr/share/zoneinfo/right/UTC")).message() ==
          "it counts leap seconds, which civil time does not");

  test::TempDir dir;
  TzdirFor tzdir(dir.path());
  std::ofstream(dir.path() / "Broken", std::ios::binary) << london.substr(0, 600);
  auto broken = Zone::load("Broken");
  REQUIRE_FALSE(broken);
  CHECK(broken.message() == "time zone \"Broken\": " + (dir.path() / "Broken").string() +
                                " is not a zone file the tz database writes: cut short in the data");
  CHECK(Zone::load("Missing").message() ==
        "unknown time zone \"Missing\", expected an IANA name such as Europe/London or UTC");
  CHECK(Zone::load("../etc/passwd").message() ==
        "unknown time zone \"../etc/passwd\", expected an IANA name such as Europe/London or UTC");
  // A FIFO is refused at once, never waited on while every other zone load waits behind it;
  // a file past 1 MiB is refused unread.
  REQUIRE(::mkfifo((dir.path() / "Fifo").c_str(), 0600) == 0);
  CHECK(Zone::load("Fifo").message() == "unknown time zone \"Fifo\", expected an IANA name such as Europe/London or UTC");
  std::ofstream(dir.path() / "Huge", std::ios::binary) << london << std::string((1 << 20) + 1, '\0');
  CHECK(Zone::load("Huge").message() == "unknown time zone \"Huge\", expected an IANA name such as Europe/London or UTC");
  fs::create_directories(dir.path() / "Folder");
  CHECK(Zone::load("Folder").message() ==
        "unknown time zone \"Folder\", expected an IANA name such as Europe/London or UTC");
  // UTC0 (as UTC, loaded by the test above) needs no file: a host without tzdata runs in UTC.
  auto utc_zone = Zone::load("UTC0");
  REQUIRE(utc_zone);
  CHECK_FALSE(utc_zone.value()->has_transitions());
  CHECK(utc_zone.value()->offset_at(0) == 0);
}

TEST_CASE("TZ strings RFC 8536 allows parse, and others do not", "[zone][tzif]") {
  auto ny = parse_posix_tz("EST5EDT,M3.2.0,M11.1.0");
  REQUIRE(ny);
  CHECK(ny->std_offset == -5 * 3600);
  CHECK(ny->dst_offset == -4 * 3600);
  CHECK(ny->dst_start.time == 7200);
  auto kolkata = parse_posix_tz("IST-5:30");
  REQUIRE(kolkata);
  CHECK(kolkata->std_offset == 5 * 3600 + 1800);
  CHECK_FALSE(kolkata->has_dst);
  auto chatham = parse_posix_tz("<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45");
  REQUIRE(chatham);
  CHECK(chatham->dst_offset == 13 * 3600 + 45 * 60);
  CHECK(chatham->dst_end.time == 3 * 3600 + 45 * 60);
  auto lord_howe = parse_posix_tz("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
  REQUIRE(lord_howe);
  CHECK(lord_howe->dst_offset == 11 * 3600);
  for (const char* bad : {"", "E5", "EST", "EST5EDT", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0", "EST5EDT,M3.6.0,M11.1.0",
                          "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J365", "EST5EDT,366,0", "EST5EDT,M3.2.0/168,M11.1.0",
                          "EST25", "EST5:60", "<AB>5", "<ABC5", "EST5EDT,M3.2.0,M11.1.0x"}) {
    INFO(bad);
    CHECK_FALSE(parse_posix_tz(bad));
  }
}
