// The host's mail retrier: delivers what mail.send could not, with doubling delays, and
// after the configured attempts (or a permanent refusal) moves the mail to the dead-letter
// file and notes it on the run that sent it. One thread; start() and stop() from the owner.
#pragma once
#include <condition_variable>
#include <mutex>
#include <thread>

#include "config/host_config.hpp"
#include "store/state_store.hpp"

namespace cronhost::api {

class MailOutbox {
 public:
  MailOutbox(store::OutboxStore& store, const config::SmtpSettings& smtp) : store_(store), smtp_(smtp) {}
  ~MailOutbox() { stop(); }

  void start();
  void stop();

 private:
  void loop();
  void attempt(const store::OutboxMail& mail);

  store::OutboxStore& store_;
  const config::SmtpSettings& smtp_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

// Gives up on a mail: the dead-letter file, a note on its run, the host log.
void bury_mail(store::OutboxStore& store, const config::SmtpSettings& smtp, const store::OutboxMail& mail,
               const std::string& error);

}  // namespace cronhost::api
