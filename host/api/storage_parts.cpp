#include "api/storage_parts.hpp"

#include <cerrno>
#include <cstring>
#include <future>
#include <ctime>
#include <openssl/evp.h>
#include <pugixml.hpp>
#include <unistd.h>

#include "util/percent.hpp"
#include "util/printable.hpp"

namespace cronhost::api {

std::vector<PartRange> plan_parts(uint64_t size, uint64_t part_size, uint64_t max_parts) {
  if (part_size == 0) part_size = 1;
  if ((size + part_size - 1) / part_size > max_parts) part_size = (size + max_parts - 1) / max_parts;
  std::vector<PartRange> parts;
  for (uint64_t at = 0; at < size; at += part_size) parts.push_back({at, std::min(part_size, size - at)});
  if (parts.empty()) parts.push_back({0, 0});
  return parts;
}

Md5::Md5() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_md5(), nullptr); }
Md5::~Md5() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Md5::update(const char* data, size_t size) { EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size); }
void Md5::reset() { EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_md5(), nullptr); }
std::string Md5::digest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

Result<std::string> md5_of_range(int fd, uint64_t offset, uint64_t length, Md5* whole) {
  Md5 part;
  std::vector<char> buffer(size_t{1} << 20);
  for (uint64_t done = 0; done < length;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - done));
    const ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status::error(std::string("reading the file: ") + std::strerror(errno));
    if (got == 0) return Status::error("the file ended early (it changed during the upload)");
    part.update(buffer.data(), static_cast<size_t>(got));
    if (whole) whole->update(buffer.data(), static_cast<size_t>(got));
    done += static_cast<uint64_t>(got);
  }
  return part.digest();
}

Status send_hashed_parts(int fd, const std::vector<PartRange>& parts, Md5* whole,
                         const std::function<Status(size_t index, PartRange part, const std::string& md5)>& send) {
  const auto hash = [fd, whole](PartRange part) { return md5_of_range(fd, part.offset, part.length, whole); };
  std::future<Result<std::string>> next = std::async(std::launch::async, hash, parts[0]);
  for (size_t i = 0; i < parts.size(); ++i) {
    auto md5 = next.get();
    if (!md5) return Status::error(md5.message());
    if (i + 1 < parts.size()) next = std::async(std::launch::async, hash, parts[i + 1]);
    if (auto sent = send(i, parts[i], md5.value()); !sent) {
      if (next.valid()) next.wait();  // the hashing thread reads fd: it finishes before the caller closes it
      return sent;
    }
  }
  return Status::ok();
}

std::string md5_of_bytes(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), size);
}

std::string hex_of(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : raw) out += {kHex[c >> 4], kHex[c & 15]};
  return out;
}

std::string encoded_key(std::string_view key) {
  std::string out;
  for (size_t start = 0;;) {
    const size_t slash = key.find('/', start);
    out += percent_encoded(key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return out;
    out += '/';
    start = slash + 1;
  }
}

int64_t parse_store_time(std::string_view text) {
  std::tm tm{};
  const std::string s(text);
  const char* end = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (!end) return 0;
  return static_cast<int64_t>(::timegm(&tm));
}

std::string store_error(long status, std::string_view body, std::string_view error_code_header) {
  std::string out = std::to_string(status);
  pugi::xml_document doc;
  if (!body.empty() && doc.load_buffer(body.data(), body.size())) {
    const pugi::xml_node error = doc.child("Error");
    const std::string code = error.child_value("Code");
    const std::string message = error.child_value("Message");
    if (!code.empty() || !message.empty()) {
      if (!code.empty()) out += " " + printable(code, 100);
      // Azure's message carries a request id and time on further lines.
      if (!message.empty()) out += ": " + printable(message.substr(0, message.find('\n')), 300);
      return out;
    }
  }
  if (!error_code_header.empty()) return out + " " + printable(error_code_header, 100);
  const std::string_view first = body.substr(0, body.find('\n'));
  return first.empty() ? out : out + ": " + printable(first, 300);
}

}  // namespace cronhost::api
