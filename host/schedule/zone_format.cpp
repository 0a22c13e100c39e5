#include "schedule/zone_format.hpp"

namespace cronhost::schedule {

std::string format_in_zone(Instant t, const Zone& zone) {
  return format_rfc3339(t, zone.offset_at(t.time_since_epoch().count()));
}

}  // namespace cronhost::schedule
