// The dashboard's static files (host/server/web/), compiled in by CMake.
#pragma once
#include <string_view>
#include <vector>

namespace cronhost::server {

struct Asset {
  std::string_view name;  // "index.html", "app.js"
  std::string_view content;
};

const std::vector<Asset>& dashboard_assets();

}  // namespace cronhost::server
