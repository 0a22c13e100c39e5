#include "plugin/wire.hpp"

#include <cerrno>
#include <cstdint>
#include <unistd.h>

namespace cronhost::plugin {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint32_t get_u32(std::string_view in, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

void put_field(std::string& out, std::string_view field) {
  put_u32(out, static_cast<uint32_t>(field.size()));
  out.append(field);
}

bool get_field(std::string_view frame, size_t& at, std::string& field) {
  if (frame.size() - at < 4) return false;
  const uint32_t size = get_u32(frame, at);
  at += 4;
  if (frame.size() - at < size) return false;
  field.assign(frame.substr(at, size));
  at += size;
  return true;
}

}  // namespace

std::string encode_call(const Call& call) {
  std::string body;
  body.reserve(1 + 12 + call.a.size() + call.b.size() + call.c.size());
  body.push_back(static_cast<char>(call.op));
  put_field(body, call.a);
  put_field(body, call.b);
  put_field(body, call.c);
  return framed(body);
}

std::optional<Call> decode_call(std::string_view frame) {
  if (frame.empty()) return std::nullopt;
  const auto op = static_cast<uint8_t>(frame[0]);
  if (op == 0 || op > kLastOp) return std::nullopt;
  Call call;
  call.op = static_cast<Op>(op);
  size_t at = 1;
  if (!get_field(frame, at, call.a) || !get_field(frame, at, call.b) || !get_field(frame, at, call.c) || at != frame.size())
    return std::nullopt;
  return call;
}

std::string encode_reply(const Reply& reply) {
  std::string body;
  body.reserve(4 + reply.payload.size());
  put_u32(body, static_cast<uint32_t>(reply.status));
  body.append(reply.payload);
  return framed(body);
}

std::optional<Reply> decode_reply(std::string_view frame) {
  if (frame.size() < 4) return std::nullopt;
  return Reply{static_cast<int>(get_u32(frame, 0)), std::string(frame.substr(4))};
}

std::string framed(std::string_view body) {
  std::string out;
  out.reserve(4 + body.size());
  put_u32(out, static_cast<uint32_t>(body.size()));
  out.append(body);
  return out;
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> read_frame(int fd) {
  const auto read_exactly = [fd](char* data, size_t size) {
    while (size > 0) {
      const ssize_t n = ::read(fd, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  };
  char prefix[4];
  if (!read_exactly(prefix, 4)) return std::nullopt;
  const uint32_t size = get_u32(std::string_view(prefix, 4), 0);
  if (size > kMaxFrameBytes) return std::nullopt;
  std::string body(size, '\0');
  if (!read_exactly(body.data(), size)) return std::nullopt;
  return body;
}

std::optional<std::string> FrameBuffer::next() {
  if (buffer_.size() < 4) return std::nullopt;
  const uint32_t size = get_u32(buffer_, 0);
  if (size > kMaxFrameBytes) {
    oversized_ = true;
    return std::nullopt;
  }
  if (buffer_.size() - 4 < size) return std::nullopt;
  std::string body = buffer_.substr(4, size);
  buffer_.erase(0, 4 + size);
  return body;
}

}  // namespace cronhost::plugin
