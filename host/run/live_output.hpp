// The output of runs still going, for the API's live stream (GET /api/runs/{id}/output/stream).
// The run's OutputBuffer hands each piece of text (already redacted) to its LiveOutput as it
// is appended; readers wait on it from the API's threads. Offsets count every byte the run
// ever appended, so a reader that reconnects resumes where it stopped. Each LiveOutput keeps
// only its newest kLiveBytes; a reader that fell further behind is told how many it missed.
// Thread-safe: one writer (the run's thread) and any number of readers.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace cronhost::run {

class LiveOutput {
 public:
  // What one run keeps for its readers: the stored output's default cap (64 KiB), so the
  // live view holds at least what the run page will show, at 64 KiB a worker.
  static constexpr size_t kLiveBytes = size_t{64} << 10;

  explicit LiveOutput(size_t keep_bytes = kLiveBytes) : keep_(keep_bytes) {}

  // The run's thread: more output, already redacted.
  void append(std::string_view text);
  // The run's thread, after its outcome was stored: no more output; `status` is the final one.
  void finish(std::string status, std::string error);

  struct Piece {
    uint64_t dropped = 0;  // bytes past `offset` no longer kept (before `text`)
    std::string text;      // from max(offset, oldest kept), whole UTF-8 characters only
    uint64_t next = 0;     // the offset after `text`
    bool ended = false;    // finished, and `text` reaches the end
    std::string status, error;  // the final status and error once ended
  };
  // What follows `offset`, at most `max_bytes` of it; waits up to `wait` while nothing does
  // and the run goes on. An offset past the end reads as the end.
  Piece read(uint64_t offset, size_t max_bytes, std::chrono::milliseconds wait) const;

 private:
  const size_t keep_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::string text_;   // the newest output, at most keep_ bytes (GUARDED_BY mutex_)
  uint64_t start_ = 0;  // the offset of text_[0] (GUARDED_BY mutex_)
  bool ended_ = false;  // (GUARDED_BY mutex_)
  std::string status_, error_;  // (GUARDED_BY mutex_)
};

// The runs of this host that are going now, by run id. A run's entry goes when it finishes;
// its readers keep their LiveOutput (shared) until they have read the end.
class LiveOutputs {
 public:
  std::shared_ptr<LiveOutput> open(int64_t run_id);
  std::shared_ptr<LiveOutput> find(int64_t run_id) const;
  // Ends the run's output with its final status and forgets it.
  void close(int64_t run_id, std::string status, std::string error);

 private:
  mutable std::mutex mutex_;
  std::map<int64_t, std::shared_ptr<LiveOutput>> runs_;  // (GUARDED_BY mutex_)
};

// How many bytes of `text` end on whole UTF-8 characters (a character cut in two by a read
// or by dropping is completed by the next read, or is dropped entirely).
size_t whole_utf8_prefix(std::string_view text);

}  // namespace cronhost::run
