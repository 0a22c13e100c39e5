#include "config/interpolate.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cronhost::config {
namespace {

// Secrets files are small; anything bigger is a mistake (a wrong path).
constexpr std::uintmax_t kMaxSecretFileBytes = 64 * 1024;

Result<std::string> read_secret_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Result<std::string>::error("${file:" + path.string() + "}: cannot read the file (" + ec.message() + ")");
  if (size > kMaxSecretFileBytes)
    return Result<std::string>::error("${file:" + path.string() + "}: the file is larger than 64 KiB");
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in) return Result<std::string>::error("${file:" + path.string() + "}: cannot read the file");
  std::string content = buffer.str();
  if (!content.empty() && content.back() == '\n') content.pop_back();
  if (!content.empty() && content.back() == '\r') content.pop_back();
  return content;
}

}  // namespace

Result<Interpolated> interpolate(std::string_view text, const std::filesystem::path& base_dir) {
  Interpolated out;
  if (text.find('$') == std::string_view::npos) {
    out.text = std::string(text);
    return out;
  }
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out.text += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out.text += text[i++];
      continue;
    }
    const size_t close = text.find('}', i);
    if (close == std::string_view::npos)
      return Result<Interpolated>::error("unclosed \"${\": expected ${env:NAME} or ${file:PATH} (write $${ for a literal ${)");
    const std::string_view ref = text.substr(i + 2, close - i - 2);
    // ${env:NAME} is a secret; ${var:NAME} is the same lookup for values that are not
    // (a version number), so they are shown as they are.
    const bool plain = ref.rfind("var:", 0) == 0;
    if (plain || ref.rfind("env:", 0) == 0) {
      const std::string scheme = plain ? "var" : "env";
      // ${env:NAME:-fallback}: the fallback when NAME is unset or empty, as in the shell.
      const size_t fallback_at = ref.find(":-", 4);
      const std::string name(ref.substr(4, fallback_at == std::string_view::npos ? std::string_view::npos : fallback_at - 4));
      if (name.empty()) return Result<Interpolated>::error("${" + scheme + ":}: the variable name is missing");
      const char* value = std::getenv(name.c_str());
      if (fallback_at != std::string_view::npos && (!value || !*value)) value = nullptr;
      if (!value && fallback_at == std::string_view::npos)
        return Result<Interpolated>::error("environment variable " + name + " is not set (${" + scheme + ":" + name + "})");
      const std::string_view resolved = value ? std::string_view(value) : ref.substr(fallback_at + 2);
      if (resolved.empty() && out.empty_variable.empty()) out.empty_variable = name;
      out.text += resolved;
      if (!plain) {
        out.has_secret = true;
        out.secret_parts.emplace_back(resolved);
      }
      i = close + 1;
      continue;
    }
    if (ref.rfind("file:", 0) == 0) {
      std::filesystem::path path(ref.substr(5));
      if (path.empty()) return Result<Interpolated>::error("${file:}: the path is missing");
      if (path.is_relative()) path = base_dir / path;
      auto content = read_secret_file(path);
      if (!content) return Result<Interpolated>::error(content.message());
      out.text += content.value();
      out.secret_parts.push_back(content.value());
    } else {
      return Result<Interpolated>::error("unknown reference \"${" + std::string(ref.substr(0, 32)) +
                                         "}\": expected ${env:NAME}, ${var:NAME} or ${file:PATH}");
    }
    out.has_secret = true;
    i = close + 1;
  }
  return out;
}

}  // namespace cronhost::config
