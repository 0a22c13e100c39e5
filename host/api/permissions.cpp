#include "api/permissions.hpp"

#include <algorithm>

#include "api/mail_address.hpp"
#include "util/ascii.hpp"
#include "util/glob.hpp"
#include "util/http_header.hpp"

namespace cronhost::api {

std::string denied(const config::JobSpec& job, std::string_view key, std::string_view what) {
  return std::string(key) + ": " + std::string(what) + " is not allowed for job " + job.name + " (allow." +
         std::string(key) + ")";
}

Status check_mail(const config::JobSpec& job, const std::vector<std::string>& recipients) {
  if (job.allow.mail_anyone) return Status::ok();
  if (job.allow.mail.empty()) return Status::error(denied(job, "mail", "sending mail"));
  for (const auto& recipient : recipients) {
    // The address on the envelope is what is matched: one strict addr-spec, so that
    // "evil@x.test@acme.test" cannot pass for *@acme.test.
    auto mailbox = parse_mailbox(recipient);
    if (!mailbox)
      return Status::error("mail: recipient '" + escape_controls(recipient) + "' is not an email address: " +
                           mailbox.message());
    const std::string address = ascii_lower(mailbox->address);
    const size_t at = address.rfind('@');
    const bool ok = std::any_of(job.allow.mail.begin(), job.allow.mail.end(), [&](const std::string& text) {
      const std::string pattern = ascii_lower(text);
      const size_t pattern_at = pattern.rfind('@');
      if (pattern_at == std::string::npos) return glob_match(pattern, address);
      // Local part and domain each match their own half; a '*' never spans the '@'.
      return glob_match(pattern.substr(0, pattern_at), address.substr(0, at)) &&
             glob_match(pattern.substr(pattern_at + 1), address.substr(at + 1));
    });
    if (!ok) return Status::error(denied(job, "mail", "recipient " + mailbox->address));
  }
  return Status::ok();
}

Status check_db(const config::JobSpec& job, std::string_view name) {
  if (std::find(job.allow.db.begin(), job.allow.db.end(), name) != job.allow.db.end()) return Status::ok();
  return Status::error(denied(job, "db", "database " + std::string(name)));
}

Status check_storage(const config::JobSpec& job, std::string_view name) {
  if (std::find(job.allow.storage.begin(), job.allow.storage.end(), name) != job.allow.storage.end()) return Status::ok();
  return Status::error(denied(job, "storage", "store " + std::string(name)));
}

Status check_registry(const config::JobSpec& job, std::string_view image) {
  for (const auto& pattern : job.allow.registry)
    if (glob_match(pattern, image)) return Status::ok();
  return Status::error(denied(job, "registry", std::string(image)));
}

bool may_use_approvals_of(const config::JobSpec& job, std::string_view owner) {
  if (!owner.empty() && owner == job.name) return true;
  return std::any_of(job.allow.approvals.begin(), job.allow.approvals.end(),
                     [&](const std::string& named) { return named == "*" || (!owner.empty() && named == owner); });
}

std::optional<std::vector<std::string>> approval_owners(const config::JobSpec& job) {
  const auto& named = job.allow.approvals;
  if (std::find(named.begin(), named.end(), "*") != named.end()) return std::nullopt;
  std::vector<std::string> owners{job.name};
  owners.insert(owners.end(), named.begin(), named.end());
  return owners;
}

}  // namespace cronhost::api
