#include "schedule/tzif.hpp"

#include <string>

namespace cronhost::schedule {
namespace {

constexpr size_t kHeaderSize = 44;

struct Header {
  char version = 0;
  uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;

  // The bytes of the data block that follows, with times of `time_size` bytes.
  uint64_t block_size(int time_size) const {
    return uint64_t{timecnt} * time_size + timecnt + uint64_t{typecnt} * 6 + charcnt +
           uint64_t{leapcnt} * (time_size + 4) + isstdcnt + isutcnt;
  }
};

// Big-endian reads from a span already checked to be long enough.
int64_t read_be(const unsigned char* p, int size) {
  uint64_t value = 0;
  for (int i = 0; i < size; ++i) value = value << 8 | p[i];
  if (size == 4) return static_cast<int32_t>(static_cast<uint32_t>(value));
  return static_cast<int64_t>(value);
}

Result<Header> read_header(std::string_view bytes, size_t at) {
  if (bytes.size() < at + kHeaderSize) return Result<Header>::error("cut short in a header");
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + at;
  if (bytes.substr(at, 4) != "TZif") return Result<Header>::error("no TZif magic");
  Header h;
  h.version = static_cast<char>(p[4]);
  uint32_t* counts[] = {&h.isutcnt, &h.isstdcnt, &h.leapcnt, &h.timecnt, &h.typecnt, &h.charcnt};
  for (int i = 0; i < 6; ++i) *counts[i] = static_cast<uint32_t>(read_be(p + 20 + 4 * i, 4));
  if (h.typecnt == 0 || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt) || (h.isutcnt != 0 && h.isutcnt != h.typecnt))
    return Result<Header>::error("inconsistent counts in the header");
  if (h.leapcnt != 0) return Result<Header>::error("it counts leap seconds, which civil time does not");
  return h;
}

// The transitions and time types of the data block at `at`.
Result<TzifZone> read_block(std::string_view bytes, size_t at, const Header& h, int time_size) {
  if (bytes.size() - at < h.block_size(time_size)) return Result<TzifZone>::error("cut short in the data");
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + at;
  const auto* indices = p + size_t{h.timecnt} * time_size;
  const auto* types = indices + h.timecnt;
  auto offset_of = [&](size_t type) { return static_cast<int32_t>(read_be(types + 6 * type, 4)); };
  // RFC 8536: offsets lie within -25 h and +26 h; the scheduler counts on less than a day or so.
  for (size_t type = 0; type < h.typecnt; ++type)
    if (offset_of(type) < -89999 || offset_of(type) > 93599)
      return Result<TzifZone>::error("a UTC offset of " + std::to_string(offset_of(type)) + " seconds");
  TzifZone zone;
  zone.initial_offset = offset_of(0);
  zone.times.reserve(h.timecnt);
  zone.offsets.reserve(h.timecnt);
  for (size_t i = 0; i < h.timecnt; ++i) {
    const int64_t time = read_be(p + i * time_size, time_size);
    if (!zone.times.empty() && time <= zone.times.back())
      return Result<TzifZone>::error("transitions out of order");
    if (indices[i] >= h.typecnt) return Result<TzifZone>::error("a transition names a time type it lacks");
    zone.times.push_back(time);
    zone.offsets.push_back(offset_of(indices[i]));
  }
  return zone;
}

}  // namespace

Result<TzifZone> read_tzif(std::string_view bytes) {
  auto v1 = read_header(bytes, 0);
  if (!v1) return Result<TzifZone>::error(v1.message());
  if (v1->version == 0) return read_block(bytes, kHeaderSize, *v1, 4);

  // Version 2 and later repeat the data with 64-bit times, then give the TZ string.
  const uint64_t v2_at = kHeaderSize + v1->block_size(4);
  if (v2_at > bytes.size()) return Result<TzifZone>::error("cut short in the data");
  auto v2 = read_header(bytes, static_cast<size_t>(v2_at));
  if (!v2) return Result<TzifZone>::error(v2.message());
  const size_t data_at = static_cast<size_t>(v2_at) + kHeaderSize;
  auto zone = read_block(bytes, data_at, *v2, 8);
  if (!zone) return zone;
  const size_t footer_at = data_at + static_cast<size_t>(v2->block_size(8));
  const std::string_view rest = bytes.substr(footer_at);
  const size_t end = rest.size() >= 2 && rest[0] == '\n' ? rest.find('\n', 1) : std::string_view::npos;
  if (end == std::string_view::npos) return Result<TzifZone>::error("no TZ string after the data");
  const std::string_view text = rest.substr(1, end - 1);
  if (!text.empty()) {
    auto& footer = zone.value().footer;
    footer = parse_posix_tz(text);
    if (!footer) return Result<TzifZone>::error("a TZ string that does not parse: " + std::string(text));
    // Without daylight saving the TZ string must say what the last transition does (RFC 8536).
    const int32_t last = zone->offsets.empty() ? zone->initial_offset : zone->offsets.back();
    if (!footer->has_dst && footer->std_offset != last)
      return Result<TzifZone>::error("the TZ string " + std::string(text) + " disagrees with the last transition");
  }
  return zone;
}

}  // namespace cronhost::schedule
