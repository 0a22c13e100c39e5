// The allow: checks every host API makes before it acts. A denial names the value, the job
// and the allowlist key, e.g.
//   http: https://evil.example/ is not allowed for job version-check (allow.http)
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/job_spec.hpp"
#include "util/status.hpp"

namespace cronhost::api {

// `url` must be absolute http(s) without credentials; returns it normalized, which is the URL
// to request: the path as RFC 3986 normalizes it (unreserved characters decoded, dot segments
// removed, %2e included), refused when it holds an encoded '/' or '\' (see api/url_path.hpp).
Result<std::string> normalize_http_url(std::string_view url);
// normalize_http_url, then the normalized URL is matched against allow.http.
Result<std::string> check_http(const config::JobSpec& job, std::string_view url);
Status check_mail(const config::JobSpec& job, const std::vector<std::string>& recipients);
Status check_db(const config::JobSpec& job, std::string_view name);
Status check_storage(const config::JobSpec& job, std::string_view name);
// allow.files is checked where the file is opened: api/beneath.hpp.
// `image` as host/repository (ghcr.io/acme/app).
Status check_registry(const config::JobSpec& job, std::string_view image);

// The denial every check returns: "<key>: <what> is not allowed for job <name> (allow.<key>)".
std::string denied(const config::JobSpec& job, std::string_view key, std::string_view what);

// Approvals belong to the job that asked: a job reads, marks and is fired by its own and those
// of the jobs allow.approvals names ("*": every job's, approvals no job asked for included).
bool may_use_approvals_of(const config::JobSpec& job, std::string_view owner);
// The jobs whose approvals `job` may use, for a query; nothing: every job's.
std::optional<std::vector<std::string>> approval_owners(const config::JobSpec& job);

}  // namespace cronhost::api
