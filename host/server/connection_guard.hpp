// Keeps slow clients from holding the API's threads (httplib gives every connection a thread
// for its life and bounds only each single read). Each connection is in a phase with a
// deadline from the moment it is accepted: its request head must arrive within kHeadMillis,
// the body and the answer within kRequestMillis. A reaper thread shuts a socket down when
// its deadline passes, and httplib's read then ends. A new connection that would leave no
// thread free evicts the oldest connection still waiting for a head of the address that has
// the most of them, so /health is answered while trickling clients hold connections.
//
// httplib 0.11 hands nobody the accepted socket, so the guard finds it: the task queue's
// enqueue runs on the accept thread right after accept(), and the new socket is the one
// connected to the API's port whose inode the guard has not seen. Thread-safe.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace cronhost::server {

class ConnectionGuard {
 public:
  // A request head slower than this is dropped (a browser sends one in one packet).
  static constexpr int64_t kHeadMillis = 5'000;
  // Reading the body (at most server.max_body_kb) and answering.
  static constexpr int64_t kRequestMillis = 30'000;

  explicit ConnectionGuard(size_t threads);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // The port the API listens on (known once bound).
  void set_port(int port) { port_ = port; }
  // On the accept thread, for the connection just accepted: the task httplib wants run for
  // it, wrapped so the guard knows which thread serves it and when it ends.
  std::function<void()> admit(std::function<void()> serve);
  // On the thread serving a connection: its head arrived / its response went.
  void head_read();
  void response_sent();

 private:
  enum class Phase { kHead, kRequest, kDropped };
  struct Connection {
    std::string peer;
    ino_t inode = 0;
    Phase phase = Phase::kHead;
    int64_t deadline_ms = 0;
    int64_t waiting_since_ms = 0;
  };
  int find_new_socket() const;  // a duplicate of the socket just accepted, or -1
  void set_phase(Phase phase);
  void drop_locked(int handle);
  void reap();

  const size_t threads_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable stop_;
  std::map<int, Connection> connections_;  // by our duplicate of the socket
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace cronhost::server
