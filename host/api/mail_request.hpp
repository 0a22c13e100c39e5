// A run's mail as given (mail.send in Lua and the plugin vtable's mail call) made into a
// message to send: recipients parsed and checked against allow.mail, subject and bodies,
// attachments read from allow.files (in a dry run a file an earlier captured effect would have
// made counts with its expected size) or given as content, their names and media types
// checked, 25 MiB in all, and the host's From, Message-ID and Date stamped. The one
// implementation; adapters only check each field's type and convert. Every failure is misuse
// (raised in Lua), its message naming the function ("mail.send: field 'to' is required",
// "mail.send attachment 2: ...") or allow.mail. Belongs to the run's thread.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "api/call_result.hpp"
#include "api/effects.hpp"
#include "api/mail.hpp"
#include "api/mail_send.hpp"
#include "config/job_spec.hpp"

namespace cronhost::api {

constexpr size_t kMaxAttachmentBytes = size_t{25} << 20;  // what common relays accept in total

// {path = ...} (inside allow.files) or {name =, content =}; type guessed from the name if absent.
struct AttachmentRequest {
  std::optional<std::string> path, name, content, type;
};

struct MailRequest {
  std::vector<std::string> to, cc, bcc;
  std::optional<std::string> subject, text, html;
  std::vector<AttachmentRequest> attachments;
};

struct PreparedMail {
  MailMessage message;
  std::vector<size_t> sizes;  // each attachment's, for RunMail::send
};

CallResult<PreparedMail> prepare_mail(const config::JobSpec& job, const EffectLog& effects, const RunMail& mail,
                                      const MailRequest& request);

}  // namespace cronhost::api
