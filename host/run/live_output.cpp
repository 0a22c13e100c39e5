#include "run/live_output.hpp"

#include <algorithm>

namespace cronhost::run {
namespace {

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

size_t whole_utf8_prefix(std::string_view text) {
  // Look back at most 3 bytes for the lead byte of the last character.
  size_t i = text.size();
  size_t back = 0;
  while (i > 0 && back < 4 && continuation(text[i - 1])) --i, ++back;
  if (i == 0) return text.size();  // no lead byte: not UTF-8 to protect
  const auto lead = static_cast<unsigned char>(text[i - 1]);
  const size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return back + 1 >= length ? text.size() : i - 1;
}

void LiveOutput::append(std::string_view text) {
  if (text.empty()) return;
  {
    std::lock_guard lock(mutex_);
    text_.append(text);
    if (text_.size() > keep_) {
      size_t cut = text_.size() - keep_;
      while (cut < text_.size() && continuation(text_[cut])) ++cut;  // drop whole characters
      text_.erase(0, cut);
      start_ += cut;
    }
  }
  changed_.notify_all();
}

void LiveOutput::finish(std::string status, std::string error) {
  {
    std::lock_guard lock(mutex_);
    ended_ = true;
    status_ = std::move(status);
    error_ = std::move(error);
  }
  changed_.notify_all();
}

LiveOutput::Piece LiveOutput::read(uint64_t offset, size_t max_bytes, std::chrono::milliseconds wait) const {
  std::unique_lock lock(mutex_);
  const auto end = [this] { return start_ + text_.size(); };
  changed_.wait_for(lock, wait, [&] { return ended_ || end() > offset; });
  Piece piece;
  if (offset < start_) {
    piece.dropped = start_ - offset;
    offset = start_;
  }
  offset = std::min<uint64_t>(offset, end());
  std::string_view rest(text_);
  rest = rest.substr(static_cast<size_t>(offset - start_));
  const bool all = rest.size() <= max_bytes;
  rest = rest.substr(0, max_bytes);
  // While the run goes on, a character cut at the end waits for its other bytes.
  if (!(all && ended_)) rest = rest.substr(0, whole_utf8_prefix(rest));
  piece.text = std::string(rest);
  piece.next = offset + rest.size();
  piece.ended = ended_ && piece.next == end();
  if (piece.ended) {
    piece.status = status_;
    piece.error = error_;
  }
  return piece;
}

std::shared_ptr<LiveOutput> LiveOutputs::open(int64_t run_id) {
  auto live = std::make_shared<LiveOutput>();
  std::lock_guard lock(mutex_);
  runs_[run_id] = live;
  return live;
}

std::shared_ptr<LiveOutput> LiveOutputs::find(int64_t run_id) const {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  return it == runs_.end() ? nullptr : it->second;
}

void LiveOutputs::close(int64_t run_id, std::string status, std::string error) {
  std::shared_ptr<LiveOutput> live;
  {
    std::lock_guard lock(mutex_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return;
    live = std::move(it->second);
    runs_.erase(it);
  }
  live->finish(std::move(status), std::move(error));
}

}  // namespace cronhost::run
