// Reading tags from any OCI Distribution v2 registry (ghcr.io, Docker Hub, docker-registry):
// anonymous, Basic (user and password or token from the host config) and the Bearer token
// challenge flow, following Link-header pagination. Not thread-safe: one per run.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/effects.hpp"
#include "api/http_client.hpp"
#include "config/host_config.hpp"
#include "util/status.hpp"

namespace cronhost::api {

// "ghcr.io/acme/app" -> {ghcr.io, acme/app}; "nginx" -> {docker.io, library/nginx}, as docker does.
struct ImageName {
  std::string registry;
  std::string repository;
  std::string text() const { return registry + "/" + repository; }
};
Result<ImageName> parse_image_name(std::string_view image);

// One parsed WWW-Authenticate challenge: scheme plus its parameters (realm, service, scope, error).
struct Challenge {
  std::string scheme;  // lower case: "basic" or "bearer"
  std::map<std::string, std::string> params;
};
Challenge parse_challenge(std::string_view header);
// The rel="next" target of a Link header, or "".
std::string next_link(std::string_view header);

class RegistryClient {
 public:
  // Tokens the flow obtains are added to `redactor`.
  RegistryClient(HttpClient& http, const std::map<std::string, config::RegistrySettings>& registries, Redactor& redactor)
      : http_(http), registries_(registries), redactor_(redactor) {}

  // Every tag, in the order the registry gave them. Errors name the image and the cause
  // (not found, authentication failed, the registry's status).
  Result<std::vector<std::string>> tags(const ImageName& image);

 private:
  Result<HttpResponse> get(const ImageName& image, const std::string& url);
  Result<std::string> fetch_token(const ImageName& image, const Challenge& challenge);

  HttpClient& http_;
  const std::map<std::string, config::RegistrySettings>& registries_;
  Redactor& redactor_;
  std::map<std::string, std::string> authorization_;  // per registry, once obtained
};

}  // namespace cronhost::api
