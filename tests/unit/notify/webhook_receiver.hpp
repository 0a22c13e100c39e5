// Test helper: tests/support/webhook_receiver.py as a child process, a real HTTP receiver on
// 127.0.0.1 that checks signatures itself and logs what it got. Stopped (its stdin closed,
// then killed after 5 s) in the destructor. Not thread-safe: one test thread uses it.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../support/temp_dir.hpp"

extern char** environ;

namespace cronhost::test {

class WebhookReceiver {
 public:
  explicit WebhookReceiver(const std::string& secret = "") {
    log_ = dir_.path() / "received.jsonl";
    int in[2], out[2];
    // Close-on-exec: the child keeps only its dup2'ed stdin and stdout, so closing ours ends it.
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> argv = {"/usr/bin/python3", CRONHOST_SOURCE_DIR "/tests/support/webhook_receiver.py",
                                     "--log", log_.string()};
    if (!secret.empty()) argv.insert(argv.end(), {"--secret", secret});
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    if (rc != 0) throw std::runtime_error("cannot start webhook_receiver.py");
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    port_ = nlohmann::json::parse(line).at("port").get<int>();
  }
  ~WebhookReceiver() {
    ::close(stdin_);
    for (int i = 0; i < 500; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  // Every request logged so far, in arrival order. A last line without its newline is still
  // being written (a read may see part of a write): it is left for the next look.
  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line) && !in.eof();)
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  // Waits (up to `limit`) until `done(requests())` holds; returns the requests then.
  template <typename Done>
  std::vector<nlohmann::json> wait_for(Done done, std::chrono::milliseconds limit = std::chrono::seconds(20)) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    auto seen = requests();
    while (!done(seen) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      seen = requests();
    }
    return seen;
  }

 private:
  TempDir dir_;
  std::filesystem::path log_;
  pid_t pid_ = 0;
  int stdin_ = -1;
  int port_ = 0;
};

}  // namespace cronhost::test
