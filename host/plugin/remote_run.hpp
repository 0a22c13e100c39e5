// The runner process's side of a run: calls travel to the host over the socket on fd 3 and
// wait for the answer; the deadline is kept here so should_stop() costs no round trip.
// One per runner process, used from the thread running the job's code.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "plugin/host_api_table.hpp"
#include "plugin/wire.hpp"

namespace cronhost::plugin {

constexpr int kHostFd = 3;

class RemoteRun final : public PluginRun {
 public:
  explicit RemoteRun(int64_t deadline_ms)
      : deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms)) {}

  Reply call(Call call) override {
    if (!write_all(kHostFd, encode_call(call))) return Reply::error(CRONHOST_EHOST, "lost the connection to the host");
    const auto frame = read_frame(kHostFd);
    auto reply = frame ? decode_reply(*frame) : std::nullopt;
    if (!reply) return Reply::error(CRONHOST_EHOST, "lost the connection to the host");
    if (reply->status < CRONHOST_OK || reply->status > CRONHOST_EHOST) reply->status = CRONHOST_EHOST;
    return *reply;
  }

  int64_t time_left_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now()).count();
  }

  // The last message: run()'s status and error. No answer comes.
  static void send_done(int status, const std::string& error) {
    write_all(kHostFd, encode_call(Call{Op::kDone, std::to_string(status), error, {}}));
  }

 private:
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace cronhost::plugin
