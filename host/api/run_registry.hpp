// Registry reads as a run makes them (registry.tags/latest in Lua and the plugin vtable's
// registry calls): the image name parsed, allow.registry, the offline dry run that reads
// nothing, and the semantic-version choice of latest. The one implementation; adapters only
// convert arguments and results. Messages name the Lua function for misuse ("registry.tags:
// ..."), the image for failures. Belongs to the run's thread.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/call_result.hpp"
#include "api/effects.hpp"
#include "api/registry_client.hpp"
#include "config/job_spec.hpp"

namespace cronhost::api {

struct LatestOptions {
  bool prerelease = false;
  std::optional<std::string> constraint;  // ">=1.0.0 <2.0.0"
};

class RunRegistry {
 public:
  // `client` gives the run's client, made on first use.
  RunRegistry(const config::JobSpec& job, const EffectLog& effects, std::function<RegistryClient&()> client)
      : job_(job), effects_(effects), client_(std::move(client)) {}

  // kMisuse: not an image name, outside allow.registry; kFailed: not found, authentication,
  // an outage, or an offline dry run.
  CallResult<std::vector<std::string>> tags(const std::string& function, const std::string& image);
  // The constraint's parse error as misuse ("constraint ...": the adapter names the field).
  static Status check_latest(const LatestOptions& options);
  // The highest tag that is a semantic version; kFailed when there is none.
  CallResult<std::string> latest(const std::string& image, const LatestOptions& options);

 private:
  const config::JobSpec& job_;
  const EffectLog& effects_;
  std::function<RegistryClient&()> client_;
};

}  // namespace cronhost::api
