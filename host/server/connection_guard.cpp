#include "server/connection_guard.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "util/clock.hpp"

namespace cronhost::server {
namespace {

// Our duplicate of the socket the calling thread serves (httplib serves one connection per
// thread). A duplicate, so its number cannot be reused by another connection while the guard
// holds it: shutting it down always reaches the connection it was taken for.
thread_local int t_handle = -1;

// The reaper looks this often: a deadline is kept to within a quarter second.
constexpr auto kReapEvery = std::chrono::milliseconds(250);

int port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  return -1;
}

std::string host_of(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof text);
  else if (address.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text, sizeof text);
  return text;
}

}  // namespace

ConnectionGuard::ConnectionGuard(size_t threads) : threads_(threads), reaper_([this] { reap(); }) {}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [handle, c] : connections_) ::close(handle);
    connections_.clear();
  }
  stop_.notify_all();
  reaper_.join();
}

int ConnectionGuard::find_new_socket() const {
  std::vector<ino_t> known;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [handle, c] : connections_) known.push_back(c.inode);
  }
  DIR* fds = ::opendir("/proc/self/fd");
  if (!fds) return -1;
  int found = -1;
  while (const dirent* entry = ::readdir(fds)) {
    const int fd = std::atoi(entry->d_name);
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9' || fd == ::dirfd(fds)) continue;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    if (std::find(known.begin(), known.end(), st.st_ino) != known.end()) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_size = sizeof local, peer_size = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) != 0 || port_of(local) != port_) continue;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0) continue;  // the listener
    found = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    break;
  }
  ::closedir(fds);
  return found;
}

std::function<void()> ConnectionGuard::admit(std::function<void()> serve) {
  const int handle = port_ ? find_new_socket() : -1;
  if (handle < 0) return serve;  // not found (out of descriptors?): served unguarded
  sockaddr_storage peer{};
  socklen_t peer_size = sizeof peer;
  ::getpeername(handle, reinterpret_cast<sockaddr*>(&peer), &peer_size);
  struct stat st {};
  ::fstat(handle, &st);
  const int64_t now = now_ms();
  Connection c{host_of(peer), st.st_ino, Phase::kHead, now + kHeadMillis, now};
  {
    std::lock_guard lock(mutex_);
    // Leave a thread free for the next client: when the threads run short, drop the oldest
    // connection still waiting for a head, of the address with the most of them (a browser's
    // six parallel connections are never touched while threads are free).
    if (connections_.size() + 1 >= threads_) {
      std::map<std::string, size_t> heads;
      for (const auto& [h, other] : connections_)
        if (other.phase == Phase::kHead) ++heads[other.peer];
      int victim = -1;
      for (const auto& [h, other] : connections_) {
        if (other.phase != Phase::kHead) continue;
        if (victim < 0) { victim = h; continue; }
        const auto& v = connections_[victim];
        if (heads[other.peer] > heads[v.peer] ||
            (heads[other.peer] == heads[v.peer] && other.waiting_since_ms < v.waiting_since_ms))
          victim = h;
      }
      if (victim >= 0) drop_locked(victim);
    }
    connections_[handle] = std::move(c);
  }
  return [this, handle, serve = std::move(serve)] {
    t_handle = handle;
    serve();
    t_handle = -1;
    std::lock_guard lock(mutex_);
    connections_.erase(handle);
    ::close(handle);
  };
}

void ConnectionGuard::head_read() { set_phase(Phase::kRequest); }
void ConnectionGuard::response_sent() { set_phase(Phase::kHead); }

void ConnectionGuard::set_phase(Phase phase) {
  if (t_handle < 0) return;
  std::lock_guard lock(mutex_);
  auto it = connections_.find(t_handle);
  if (it == connections_.end() || it->second.phase == Phase::kDropped) return;
  const int64_t now = now_ms();
  it->second.phase = phase;
  it->second.deadline_ms = now + (phase == Phase::kHead ? kHeadMillis : kRequestMillis);
  if (phase == Phase::kHead) it->second.waiting_since_ms = now;  // waiting afresh for the next head
}

void ConnectionGuard::drop_locked(int handle) {
  auto it = connections_.find(handle);
  if (it == connections_.end() || it->second.phase == Phase::kDropped) return;
  // The serving thread closes the socket; shutting it down ends that thread's read or write.
  ::shutdown(handle, SHUT_RDWR);
  it->second.phase = Phase::kDropped;
  it->second.deadline_ms = INT64_MAX;
}

void ConnectionGuard::reap() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    stop_.wait_for(lock, kReapEvery, [&] { return stopping_; });
    const int64_t now = now_ms();
    std::vector<int> late;
    for (const auto& [handle, c] : connections_)
      if (c.deadline_ms <= now) late.push_back(handle);
    for (int handle : late) drop_locked(handle);
  }
}

}  // namespace cronhost::server
