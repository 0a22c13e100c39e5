// The (5) and (7) manual pages: cronhost.yaml(5) and the keys of cronhost-jobs(5) from the
// JSON schemas compiled into the binary (their "description" fields), the cron grammar and
// DST rules of cronhost-jobs(5) from README.md's sections on them, and cronhost-lua(7) from
// the LuaLS meta file schemas/lua/cronhost.lua. Each returns the page, or an error naming
// the file and what is missing.
#pragma once
#include <filesystem>
#include <string>

#include "util/status.hpp"

namespace cronhost::cli::manual {

Result<std::string> config_page(const std::string& version);
Result<std::string> jobs_page(const std::string& version, const std::filesystem::path& readme);
Result<std::string> lua_page(const std::string& version, const std::filesystem::path& meta_file);

}  // namespace cronhost::cli::manual
