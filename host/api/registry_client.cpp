#include "api/registry_client.hpp"

#include <cctype>
#include <nlohmann/json.hpp>

#include "util/base64.hpp"
#include "util/percent.hpp"

namespace cronhost::api {
namespace {

constexpr int kMaxPages = 1000;

// The registry's own errors ({"errors":[{"code":"NAME_UNKNOWN","message":"..."}]}), if any.
std::string registry_error(const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object() || !json.contains("errors") || !json["errors"].is_array() || json["errors"].empty()) return "";
  const auto& first = json["errors"][0];
  if (!first.is_object()) return "";
  return ": " + first.value("code", std::string()) + " " + first.value("message", std::string());
}

std::string base_url(const std::map<std::string, config::RegistrySettings>& registries, const std::string& registry) {
  if (auto it = registries.find(registry); it != registries.end()) return it->second.url;
  if (registry == "docker.io") return "https://registry-1.docker.io";
  return "https://" + registry;
}

const config::RegistrySettings* credentials(const std::map<std::string, config::RegistrySettings>& registries,
                                            const std::string& registry) {
  auto it = registries.find(registry);
  return it != registries.end() && !it->second.user.empty() ? &it->second : nullptr;
}

std::string basic(const config::RegistrySettings& settings) {
  return "Basic " + base64_encode(settings.user + ":" + settings.password);
}

HttpClient::UrlCheck only_under(std::string prefix) {
  return [prefix = std::move(prefix)](std::string_view url) -> Result<std::string> {
    if (url.substr(0, prefix.size()) == prefix) return std::string(url);
    return Result<std::string>::error("registry: refusing to follow " + std::string(url) + " (outside " + prefix + ")");
  };
}

}  // namespace

Result<ImageName> parse_image_name(std::string_view image) {
  const std::string text(image);
  if (image.empty()) return Result<ImageName>::error("registry: the image name is empty");
  if (image.find('@') != std::string_view::npos || image.find(':', image.rfind('/') + 1) != std::string_view::npos)
    return Result<ImageName>::error("registry: give the image without a tag or digest, e.g. ghcr.io/acme/app (got " + text + ")");
  ImageName name;
  const size_t slash = image.find('/');
  const std::string_view first = image.substr(0, slash);
  if (slash != std::string_view::npos &&
      (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos || first == "localhost")) {
    name.registry = std::string(first);
    name.repository = std::string(image.substr(slash + 1));
  } else {
    name.registry = "docker.io";
    name.repository = slash == std::string_view::npos ? "library/" + text : text;
  }
  const bool valid = !name.repository.empty() && std::all_of(name.repository.begin(), name.repository.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
           c == '_' || c == '-' || c == '/';
  });
  if (!valid)
    return Result<ImageName>::error("registry: '" + text +
                                    "' is not an image name (lower-case letters, digits, '.', '_', '-', '/')");
  return name;
}

Challenge parse_challenge(std::string_view header) {
  Challenge challenge;
  size_t i = header.find(' ');
  challenge.scheme = std::string(header.substr(0, i));
  for (auto& c : challenge.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (i != std::string_view::npos && i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    const size_t eq = header.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key(header.substr(i, eq - i));
    std::string value;
    i = eq + 1;
    if (i < header.size() && header[i] == '"') {  // quoted: commas inside belong to the value
      for (++i; i < header.size() && header[i] != '"'; ++i) {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value += header[i];
      }
      ++i;
    } else {
      const size_t end = header.find(',', i);
      value = std::string(header.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
      i = end;
    }
    challenge.params[key] = value;
  }
  return challenge;
}

std::string next_link(std::string_view header) {
  // Link: <url>; rel="next", <url2>; rel="prev"
  size_t at = 0;
  while ((at = header.find('<', at)) != std::string_view::npos) {
    const size_t close = header.find('>', at);
    if (close == std::string_view::npos) return "";
    const size_t end = header.find('<', close);
    const std::string_view params = header.substr(close + 1, end == std::string_view::npos ? std::string_view::npos : end - close - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos || params.find("rel=next") != std::string_view::npos)
      return std::string(header.substr(at + 1, close - at - 1));
    at = close;
  }
  return "";
}

Result<std::string> RegistryClient::fetch_token(const ImageName& image, const Challenge& challenge) {
  const auto realm = challenge.params.find("realm");
  if (realm == challenge.params.end() || realm->second.rfind("http", 0) != 0)
    return Result<std::string>::error("registry: " + image.registry + " asked for a token without a usable realm");
  std::string url = realm->second + (realm->second.find('?') == std::string::npos ? "?" : "&");
  if (auto service = challenge.params.find("service"); service != challenge.params.end())
    url += "service=" + percent_encoded(service->second) + "&";
  const auto scope = challenge.params.find("scope");
  url += "scope=" + percent_encoded(scope != challenge.params.end() ? scope->second
                                                                    : "repository:" + image.repository + ":pull");
  HttpRequest request{.url = url};
  if (const auto* creds = credentials(registries_, image.registry)) request.headers.emplace_back("Authorization", basic(*creds));
  auto response = http_.perform(request, only_under(realm->second));
  if (!response) return Result<std::string>::error("registry: token service: " + response.message());
  if (response->status != 200)
    return Result<std::string>::error("registry: authentication failed for " + image.text() + ": the token service " +
                                      realm->second + " answered " + std::to_string(response->status));
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  std::string token;
  if (json.is_object()) token = json.value("token", json.value("access_token", std::string()));
  if (token.empty())
    return Result<std::string>::error("registry: the token service " + realm->second + " sent no token");
  redactor_.add(token);
  return token;
}

Result<HttpResponse> RegistryClient::get(const ImageName& image, const std::string& url) {
  const std::string base = base_url(registries_, image.registry);
  HttpRequest request{.url = url, .headers = {{"Accept", "application/json"}}};
  auto& saved = authorization_[image.registry];
  if (!saved.empty()) request.headers.emplace_back("Authorization", saved);
  auto response = http_.perform(request, only_under(base + "/v2/"));
  if (!response || response->status != 401) return response;

  const Challenge challenge = parse_challenge(response->header("www-authenticate"));
  std::string authorization;
  if (challenge.scheme == "basic") {
    const auto* creds = credentials(registries_, image.registry);
    if (!creds)
      return Result<HttpResponse>::error("registry: " + image.registry + " requires a user and password for " +
                                         image.text() + " (registries: " + image.registry + ": user, password in the host config)");
    authorization = basic(*creds);
  } else if (challenge.scheme == "bearer") {
    auto token = fetch_token(image, challenge);
    if (!token) return Result<HttpResponse>::error(token.message());
    authorization = "Bearer " + token.value();
  } else {
    return Result<HttpResponse>::error("registry: " + image.registry + " asked for unsupported authentication '" +
                                       challenge.scheme + "'");
  }
  if (authorization == saved) return response;  // the same credentials again would fail again
  saved = authorization;
  request.headers = {{"Accept", "application/json"}, {"Authorization", authorization}};
  return http_.perform(request, only_under(base + "/v2/"));
}

Result<std::vector<std::string>> RegistryClient::tags(const ImageName& image) {
  std::vector<std::string> tags;
  std::string url = base_url(registries_, image.registry) + "/v2/" + image.repository + "/tags/list";
  for (int page = 0; !url.empty(); ++page) {
    if (page == kMaxPages)
      return Result<std::vector<std::string>>::error("registry: " + image.text() + ": more than " +
                                                     std::to_string(kMaxPages) + " pages of tags");
    auto response = get(image, url);
    if (!response) return Result<std::vector<std::string>>::error(response.message());
    const long status = response->status;
    if (status == 401 || status == 403) {
      const auto error = parse_challenge(response->header("www-authenticate")).params["error"];
      return Result<std::vector<std::string>>::error("registry: authentication failed for " + image.text() + " (" +
                                                     std::to_string(status) + (error.empty() ? "" : " " + error) + ")");
    }
    if (status == 404)
      return Result<std::vector<std::string>>::error("registry: " + image.text() + " not found (404" +
                                                     registry_error(response->body) + ")");
    if (status != 200)
      return Result<std::vector<std::string>>::error("registry: " + image.text() + ": the registry answered " +
                                                     std::to_string(status) + registry_error(response->body));
    auto json = nlohmann::json::parse(response->body, nullptr, false);
    if (!json.is_object() || !(json["tags"].is_array() || json["tags"].is_null()))
      return Result<std::vector<std::string>>::error("registry: " + image.text() + ": the tag list is not the expected JSON");
    for (const auto& tag : json["tags"])
      if (tag.is_string()) tags.push_back(tag.get<std::string>());
    const std::string next = next_link(response->header("link"));
    url = next.empty() ? "" : resolve_url(url, next);
  }
  return tags;
}

}  // namespace cronhost::api
