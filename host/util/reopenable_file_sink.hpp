// A spdlog sink writing one file that SIGUSR1 can reopen: logrotate (create mode) renames the
// file and the next reopen() starts a new one at the same path. spdlog 1.10's basic_file_sink
// keeps its file_helper private, so it cannot. Thread-safe (the base sink's mutex).
#pragma once
#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>

namespace cronhost {

class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Opens `path` for appending (creating it and its folder); throws spdlog::spdlog_ex on failure.
  explicit ReopenableFileSink(const std::string& path) { file_.open(path, false); }

  // Closes the file and opens its path again for appending. Throws spdlog::spdlog_ex when it
  // cannot (the file open before is then closed: lines go to the other sinks only).
  void reopen() {
    std::lock_guard lock(mutex_);
    open_ = false;  // file_helper closes first: a failed open leaves no file to write to
    file_.reopen(false);
    open_ = true;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    if (!open_) return;
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    file_.write(formatted);
  }
  void flush_() override {
    if (open_) file_.flush();
  }

 private:
  spdlog::details::file_helper file_;
  bool open_ = true;  // guarded by mutex_
};

}  // namespace cronhost
