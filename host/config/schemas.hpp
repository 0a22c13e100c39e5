// The JSON Schemas of the job file and the host config, compiled in from schemas/.
#pragma once
#include <string_view>

namespace cronhost::config {

std::string_view job_schema_text();
std::string_view config_schema_text();

}  // namespace cronhost::config
