// A fixed number of threads taking tasks from one queue, oldest first. `on_drained` (if any)
// runs on a worker that finished a task and found the queue empty; when it returns a wait,
// that worker calls it again after the wait unless a task came meanwhile.
// Thread-safe; the destructor runs every queued task before the threads end.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cronhost::dispatch {

class WorkerPool {
 public:
  using OnDrained = std::function<std::chrono::milliseconds()>;
  explicit WorkerPool(int workers, OnDrained on_drained = {});
  ~WorkerPool();

  void submit(std::function<void()> task);
  size_t queued() const;

 private:
  void work();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  const OnDrained on_drained_;
  std::vector<std::thread> threads_;
};

}  // namespace cronhost::dispatch
