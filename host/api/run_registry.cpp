#include "api/run_registry.hpp"

#include "api/permissions.hpp"
#include "api/semver.hpp"

namespace cronhost::api {

CallResult<std::vector<std::string>> RunRegistry::tags(const std::string& function, const std::string& given) {
  using R = CallResult<std::vector<std::string>>;
  auto image = parse_image_name(given);
  if (!image) return R::misuse(function + ": " + image.message());
  const std::string text = image->text();
  if (auto allowed = check_registry(job_, text); !allowed) return R::misuse(allowed.message());
  if (effects_.offline()) return R::failed("registry: " + text + ": not read (offline dry run)");
  auto result = client_().tags(image.value());
  if (!result) return R::failed(result.message());
  return std::move(result).value();
}

Status RunRegistry::check_latest(const LatestOptions& options) {
  if (!options.constraint) return Status::ok();
  auto parsed = Constraint::parse(*options.constraint);
  if (!parsed) return Status::error(parsed.message());
  return Status::ok();
}

CallResult<std::string> RunRegistry::latest(const std::string& given, const LatestOptions& options) {
  using R = CallResult<std::string>;
  std::optional<Constraint> constraint;
  if (options.constraint) {
    auto parsed = Constraint::parse(*options.constraint);
    if (!parsed) return R::misuse("registry.latest: " + parsed.message());
    constraint = std::move(parsed).value();
  }
  auto found = tags("registry.latest", given);
  if (!found) return R::from(found);
  const auto best = latest_tag(found.value(), options.prerelease, constraint ? &*constraint : nullptr);
  if (!best)
    return R::failed("registry: " + parse_image_name(given)->text() + " has no " + (options.prerelease ? "" : "release ") +
                     "tag that is a semantic version" + (constraint ? " within the constraint" : ""));
  return *best;
}

}  // namespace cronhost::api
