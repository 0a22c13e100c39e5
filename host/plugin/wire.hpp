// The socket protocol between the host and an isolated plugin's runner process: a frame is
// a 4-byte little-endian length and that many bytes. The runner sends a call frame and
// waits for the reply frame; kDone is sent last and has no reply.
//   call:  op (1 byte), then a, b, c, each as a 4-byte length and its bytes
//   reply: status (4 bytes), then the payload to the end of the frame
// Functions are pure or act only on the descriptor given; thread-compatible.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "plugin/call.hpp"

namespace cronhost::plugin {

// A frame above this is a protocol error: a plugin cannot make the host buffer without end.
// It fits the host's own caps (HTTP bodies and file reads 16 MiB by default) with room for a
// mail with attachments given as content.
constexpr size_t kMaxFrameBytes = size_t{64} << 20;

std::string encode_call(const Call& call);
std::optional<Call> decode_call(std::string_view frame);
std::string encode_reply(const Reply& reply);
std::optional<Reply> decode_reply(std::string_view frame);

// Writes the whole of `bytes`, retrying on EINTR; false when the peer is gone.
bool write_all(int fd, std::string_view bytes);
// The frame's bytes with the length prefix added.
std::string framed(std::string_view body);
// Blocks until one whole frame arrives; nullopt at end of stream or on a protocol error.
std::optional<std::string> read_frame(int fd);

// Bytes read from a non-blocking socket, cut into frames.
class FrameBuffer {
 public:
  void append(const char* data, size_t size) { buffer_.append(data, size); }
  // The next whole frame's body, if one has arrived.
  std::optional<std::string> next();
  // A frame announced a length over kMaxFrameBytes: the peer is broken or hostile.
  bool oversized() const { return oversized_; }

 private:
  std::string buffer_;
  bool oversized_ = false;
};

}  // namespace cronhost::plugin
