// An instant as RFC 3339 text with a zone's offset at that instant. Apart from the job JSON
// (config/job_json) so that bin/cronhost, which prints fire times, links no job-file code.
#pragma once
#include <string>

#include "schedule/zone.hpp"
#include "util/time_format.hpp"

namespace cronhost::schedule {

// "2026-10-04T03:00:00+10:30": the instant with the offset of `zone` at that instant.
std::string format_in_zone(Instant t, const Zone& zone);

}  // namespace cronhost::schedule
