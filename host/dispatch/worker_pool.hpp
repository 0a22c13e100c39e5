// A fixed number of threads taking tasks from one queue, oldest first; `on_drained` (if any)
// runs on a worker that finished a task and found the queue empty.
// Thread-safe; the destructor runs every queued task before the threads end.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cronhost::dispatch {

class WorkerPool {
 public:
  explicit WorkerPool(int workers, std::function<void()> on_drained = {});
  ~WorkerPool();

  void submit(std::function<void()> task);
  size_t queued() const;

 private:
  void work();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  const std::function<void()> on_drained_;
  std::vector<std::thread> threads_;
};

}  // namespace cronhost::dispatch
