#include "dispatch/worker_pool.hpp"

namespace cronhost::dispatch {

WorkerPool::WorkerPool(int workers, OnDrained on_drained) : on_drained_(std::move(on_drained)) {
  for (int i = 0; i < std::max(1, workers); ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void WorkerPool::work() {
  bool ran = false;
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      const auto idle = [&] { return !stopping_ && queue_.empty(); };
      for (bool again = ran && on_drained_; again && idle();) {
        lock.unlock();
        const auto wait = on_drained_();
        lock.lock();
        again = wait.count() > 0 && !wake_.wait_for(lock, wait, [&] { return !idle(); });
      }
      ran = false;
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
    ran = true;
  }
}

}  // namespace cronhost::dispatch
