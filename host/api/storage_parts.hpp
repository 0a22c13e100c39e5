// Pieces both object stores share: how a file is cut into parts, the MD5 each part is sent
// with (the store checks it, so a corrupted part is refused, not stored), key encoding, the
// timestamps and error documents the stores answer with. Plain functions; thread-safe.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.hpp"

namespace cronhost::api {

// How many objects one list (or prune) reads at most: the listing is held in memory.
inline constexpr size_t kMaxListed = 100'000;

struct PartRange {
  uint64_t offset = 0, length = 0;
};

// `size` in parts of `part_size`, grown so there are at most `max_parts` (S3's and Azure's
// 10,000). An empty file is one empty part.
std::vector<PartRange> plan_parts(uint64_t size, uint64_t part_size, uint64_t max_parts = 10'000);

// A running MD5 over several ranges read in order (a whole file hashed part by part).
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void update(const char* data, size_t size);
  void reset();          // back to the MD5 of nothing
  std::string digest();  // 16 raw bytes; once (until reset)

 private:
  void* ctx_;
};

// MD5 of bytes `offset`..`offset+length` of `fd` (read with pread), as 16 raw bytes; the same
// bytes fed to `whole` too when given.
Result<std::string> md5_of_range(int fd, uint64_t offset, uint64_t length, Md5* whole = nullptr);
std::string md5_of_bytes(std::string_view bytes);
std::string hex_of(std::string_view raw);

// Calls `send(index, part, md5)` for each part of `fd` in order, stopping at the first error;
// each part's MD5 (16 raw bytes) is computed on another thread while the one before is sent,
// and fed to `whole` too when given.
Status send_hashed_parts(int fd, const std::vector<PartRange>& parts, Md5* whole,
                         const std::function<Status(size_t index, PartRange part, const std::string& md5)>& send);

// An object key as a URL path: each '/'-separated segment percent-encoded (RFC 3986
// unreserved characters kept), the way both stores and SigV4 want it.
std::string encoded_key(std::string_view key);

// "2026-12-04T02:00:01.000Z" (S3) or "Fri, 04 Dec 2026 02:00:01 GMT" (Azure) as unix
// seconds; 0 when unreadable.
int64_t parse_store_time(std::string_view text);

// "<status> <Code>: <Message>" from a store's XML error document (both stores use
// <Error><Code/><Message/></Error>), or the status and the body's first line.
std::string store_error(long status, std::string_view body, std::string_view error_code_header = {});

}  // namespace cronhost::api
