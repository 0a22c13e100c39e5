// What happens to a run's mail once its message is checked (mail.send and the plugin
// vtable's mail call): in a dry run it is captured, not sent; live it is sent now within the
// run's deadline, and when the relay fails for now it is queued in the outbox for the
// retrier, or buried in the dead-letter file when the relay refused it for good. The one
// implementation; the Lua binding only reads the message and converts the answer.
// Belongs to the run's thread.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api/effects.hpp"
#include "api/mail.hpp"
#include "config/host_config.hpp"
#include "config/job_spec.hpp"
#include "store/state_store.hpp"
#include "util/clock.hpp"
#include "util/status.hpp"

namespace cronhost::api {

struct MailSent {
  std::string message_id;
  bool sent = false;     // delivered now
  bool queued = false;   // the relay failed for now; the outbox retries it (error says why)
  bool dry_run = false;  // captured, not sent
  bool stopped = false;  // the run was stopped while sending: neither sent nor queued
  std::string error;     // queued: the relay's answer, redacted
};

// Where a run's mail goes: the host's relay, the run's store and effects. The references
// must outlive this object (they are the RunContext's members); `run_id` is read at send
// time, as the caller fills it in after construction.
struct RunMailPlace {
  const config::JobSpec& job;
  const int64_t& run_id;
  const config::HostConfig* host;
  store::Store* store;
  EffectLog& effects;
  const Redactor& redactor;
  const std::chrono::steady_clock::time_point& deadline;
  std::function<bool()> stop_now;  // true: the run must stop (cancelled, past its deadline)
  const Clock& clock = SystemClock::instance();
};

class RunMail {
 public:
  explicit RunMail(RunMailPlace place) : place_(std::move(place)) {}

  // Fails when the host has no smtp: section (misuse: the job cannot send mail here).
  Status check_configured() const;
  // Fills in what the host decides: From (the relay's), Message-ID and Date.
  void stamp(MailMessage& message) const;
  // The decision above. `sizes` holds each attachment's size (a dry run's planned files
  // included) for the captured record. Fails (nil, err in Lua) when the relay refused it for
  // good or the outbox could not take it: either way it is kept in the dead-letter file.
  Result<MailSent> send(const MailMessage& message, const std::vector<size_t>& sizes);

 private:
  void capture(const MailMessage& message, const std::vector<size_t>& sizes);

  RunMailPlace place_;
};

}  // namespace cronhost::api
