// A field of PostgreSQL's COPY text format: the four characters that would end a field or a
// row, or start an escape, are written as escapes; everything else goes as it is.
#include <catch2/catch.hpp>

#include "store/pg_copy_text.hpp"

using cronhost::store::append_copy_field;

TEST_CASE("COPY text fields escape backslash, tab, newline and carriage return only", "[store]") {
  const struct {
    std::string value, expected;
  } cases[] = {
      {"", ""},
      {"plain text", "plain text"},
      {"tab\there", "tab\\there"},
      {"line 1\nline 2\r\n", "line 1\\nline 2\\r\\n"},
      {"C:\\temp\\", "C:\\\\temp\\\\"},
      {"\\N", "\\\\N"},                  // the text \N, not NULL
      {"\\.", "\\\\."},                  // not COPY's end marker
      {"quote ' \" é 日本 🚀", "quote ' \" é 日本 🚀"},
  };
  for (const auto& c : cases) {
    INFO(c.value);
    std::string row = "x\t";
    append_copy_field(row, c.value);
    CHECK(row == "x\t" + c.expected);
  }
  CHECK(cronhost::store::kCopyNull == "\\N");
}
