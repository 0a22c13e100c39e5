#include "api/sql_text.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace cronhost::api {
namespace {

bool is_word_start(char c, SqlDialect dialect) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalpha(u) || c == '_' || u >= 0x80 || (dialect == SqlDialect::kMysql && c == '$');
}
bool is_word_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '$' || u >= 0x80;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// One pass over the text; `i` is the position, `out` the translated text so far.
class Scanner {
 public:
  Scanner(std::string_view sql, SqlDialect dialect) : sql_(sql), dialect_(dialect) {}

  SqlText run() {
    while (i_ < sql_.size() && result_.problem.empty()) step();
    end_statement();
    return std::move(result_);
  }

 private:
  bool at(std::string_view s) const { return sql_.substr(i_, s.size()) == s; }
  char peek(size_t ahead = 0) const { return i_ + ahead < sql_.size() ? sql_[i_ + ahead] : '\0'; }
  bool postgres() const { return dialect_ == SqlDialect::kPostgres; }

  void copy(size_t from) { result_.translated.append(sql_.substr(from, i_ - from)); }
  void fail(std::string_view what, size_t from) {
    result_.problem = "the SQL has an unterminated " + std::string(what) + " (from character " + std::to_string(from + 1) + ")";
  }
  void emit(SqlToken::Kind kind, std::string text = {}) {
    if (kind == SqlToken::Kind::kSemicolon) {
      end_statement();
    } else {
      statement_has_code_ = true;
      if (kind == SqlToken::Kind::kWord) track_blocks(text);
    }
    result_.tokens.push_back({kind, std::move(text)});
  }
  void end_statement() {
    if (statement_has_code_) ++result_.statements;
    statement_has_code_ = false;
    first_word_.clear();
    block_depth_ = 0;
    after_end_ = false;
  }

  // Routine bodies (CREATE FUNCTION ... BEGIN ATOMIC ... END on PostgreSQL, CREATE PROCEDURE
  // ... BEGIN ... END on MySQL) hold semicolons of their own; they do not end the statement.
  void track_blocks(const std::string& word) {
    if (first_word_.empty()) first_word_ = word;
    if (first_word_ != "CREATE") return;
    if (after_end_ && (word == "IF" || word == "LOOP" || word == "WHILE" || word == "REPEAT")) ++block_depth_;
    after_end_ = false;
    if (word == "BEGIN" || word == "CASE") ++block_depth_;
    if (word == "END" && block_depth_ > 0) {
      --block_depth_;
      after_end_ = true;  // END IF / END LOOP close what was never counted
    }
  }

  void step() {
    const size_t from = i_;
    const char c = sql_[i_];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i_;
      return copy(from);
    }
    if (comment()) return copy(from);
    if (in_executed_comment_ && at("*/")) {  // the end of MySQL's /*! ... */: nothing of code
      i_ += 2;
      in_executed_comment_ = false;
      return copy(from);
    }
    if (c == '\'') return quoted('\'', SqlToken::Kind::kLiteral, !postgres(), "string literal");
    if (c == '"') {
      if (postgres()) return quoted('"', SqlToken::Kind::kQuotedName, false, "quoted identifier");
      return quoted('"', SqlToken::Kind::kLiteral, true, "string literal");
    }
    if (c == '`' && !postgres()) return quoted('`', SqlToken::Kind::kQuotedName, false, "quoted identifier");
    if (c == '$' && postgres() && dollar()) return;
    if (c == '?') {
      ++i_;
      ++result_.placeholders;
      if (postgres()) result_.translated += "$" + std::to_string(result_.placeholders);
      else copy(from);
      return emit(SqlToken::Kind::kPlaceholder);
    }
    if (c == ';') {
      ++i_;
      copy(from);
      return emit(block_depth_ > 0 ? SqlToken::Kind::kSymbol : SqlToken::Kind::kSemicolon, block_depth_ > 0 ? ";" : "");
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i_ < sql_.size() && (is_word_char(sql_[i_]) || sql_[i_] == '.')) ++i_;
      copy(from);
      return emit(SqlToken::Kind::kLiteral);
    }
    if (is_word_start(c, dialect_)) {
      while (i_ < sql_.size() && is_word_char(sql_[i_])) ++i_;
      copy(from);
      // E'...': PostgreSQL's string with backslash escapes; the E is part of the literal.
      if (postgres() && i_ - from == 1 && (c == 'E' || c == 'e') && peek() == '\'')
        return quoted('\'', SqlToken::Kind::kLiteral, true, "string literal");
      return emit(SqlToken::Kind::kWord, upper(sql_.substr(from, i_ - from)));
    }
    ++i_;
    copy(from);
    emit(SqlToken::Kind::kSymbol, std::string(1, c));
  }

  // Skips a comment at i_; false when there is none. MySQL's /*! ... */ and /*M! ... */ are
  // run by the server: only their opening is skipped, and their text is scanned as code.
  bool comment() {
    const size_t from = i_;
    const bool dash_dash = at("--") && (postgres() || i_ + 2 >= sql_.size() ||
                                        std::isspace(static_cast<unsigned char>(peek(2))) ||
                                        std::iscntrl(static_cast<unsigned char>(peek(2))));
    if (dash_dash || (!postgres() && peek() == '#')) {
      while (i_ < sql_.size() && sql_[i_] != '\n') ++i_;
      return true;
    }
    if (!at("/*")) return false;
    if (!postgres() && (at("/*!") || at("/*M!"))) {
      if (in_executed_comment_) return false;  // MySQL does not nest them: scanned as code
      i_ += at("/*!") ? 3 : 4;
      while (i_ < sql_.size() && std::isdigit(static_cast<unsigned char>(sql_[i_]))) ++i_;  // the version
      in_executed_comment_ = true;
      return true;
    }
    i_ += 2;
    int depth = 1;  // PostgreSQL nests /* */; MySQL ends at the first */
    while (i_ < sql_.size() && depth > 0) {
      if (at("*/")) {
        --depth;
        i_ += 2;
      } else if (postgres() && at("/*")) {
        ++depth;
        i_ += 2;
      } else {
        ++i_;
      }
    }
    if (depth > 0) fail("comment", from);
    return true;
  }

  // A literal or identifier quoted with `quote` (doubled inside to stand for itself), with
  // backslash escapes when `backslash`.
  void quoted(char quote, SqlToken::Kind kind, bool backslash, std::string_view what) {
    const size_t from = i_;
    ++i_;
    std::string name;
    for (;;) {
      if (i_ >= sql_.size()) return fail(what, from);
      const char c = sql_[i_];
      if (backslash && c == '\\' && i_ + 1 < sql_.size()) {
        i_ += 2;
        continue;
      }
      if (c == quote) {
        if (peek(1) == quote) {
          name += quote;
          i_ += 2;
          continue;
        }
        ++i_;
        break;
      }
      name += c;
      ++i_;
    }
    copy(from);
    emit(kind, kind == SqlToken::Kind::kQuotedName ? upper(name) : std::string());
  }

  // PostgreSQL's $1 and $tag$ ... $tag$ at i_; false when the $ is neither (an operator).
  bool dollar() {
    const size_t from = i_;
    if (std::isdigit(static_cast<unsigned char>(peek(1)))) {
      ++i_;
      while (i_ < sql_.size() && std::isdigit(static_cast<unsigned char>(sql_[i_]))) ++i_;
      copy(from);
      emit(SqlToken::Kind::kNumbered);
      return true;
    }
    size_t end = i_ + 1;
    if (end < sql_.size() && is_word_start(sql_[end], dialect_))
      while (end < sql_.size() && is_word_char(sql_[end]) && sql_[end] != '$') ++end;
    if (end >= sql_.size() || sql_[end] != '$') return false;
    const std::string_view tag = sql_.substr(i_, end - i_ + 1);
    const size_t close = sql_.find(tag, end + 1);
    if (close == std::string_view::npos) {
      fail("dollar-quoted string", from);
      return true;
    }
    i_ = close + tag.size();
    copy(from);
    emit(SqlToken::Kind::kLiteral);
    return true;
  }

  std::string_view sql_;
  SqlDialect dialect_;
  size_t i_ = 0;
  SqlText result_;
  bool statement_has_code_ = false;
  bool in_executed_comment_ = false;
  std::string first_word_;  // of the statement under way
  int block_depth_ = 0;
  bool after_end_ = false;
};

// The server-side file and program functions of PostgreSQL job code may not call.
struct FunctionRule {
  std::string_view name;  // upper-cased; a trailing '*' matches any ending
  std::string_view why;
};
constexpr std::string_view kFiles = "it reads or writes files on the database server";
constexpr std::array<FunctionRule, 8> kPostgresFunctions{{
    {"PG_READ_FILE", kFiles},
    {"PG_READ_BINARY_FILE", kFiles},
    {"PG_LS_DIR", kFiles},
    {"PG_STAT_FILE", kFiles},
    {"PG_FILE_WRITE", kFiles},
    {"LO_IMPORT", "it reads a file on the database server (bind the bytes as a value instead)"},
    {"LO_EXPORT", "it writes a file on the database server (select the bytes instead)"},
    {"DBLINK*", "it connects from the database server to other databases"},
}};

bool matches(std::string_view name, std::string_view rule) {
  if (!rule.empty() && rule.back() == '*') return name.substr(0, rule.size() - 1) == rule.substr(0, rule.size() - 1);
  return name == rule;
}

bool is_name(const SqlToken& t) { return t.kind == SqlToken::Kind::kWord || t.kind == SqlToken::Kind::kQuotedName; }

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The refusal of one statement's tokens [begin, end), if any.
std::optional<std::string> statement_refusal(const std::vector<SqlToken>& tokens, size_t begin, size_t end,
                                             SqlDialect dialect) {
  if (begin >= end) return std::nullopt;
  const auto word_at = [&](size_t i) -> std::string {
    return i < end && tokens[i].kind == SqlToken::Kind::kWord ? tokens[i].text : std::string();
  };
  const std::string first = word_at(begin);
  static const std::array<std::string_view, 8> kTransactionWords{"BEGIN", "START",    "COMMIT",  "END",
                                                                  "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"};
  if (std::find(kTransactionWords.begin(), kTransactionWords.end(), first) != kTransactionWords.end() &&
      !(first == "END" && dialect == SqlDialect::kMysql))
    return first + " is refused: use conn:transaction(fn) rather than BEGIN, COMMIT, ROLLBACK, SAVEPOINT or RELEASE";
  if (dialect == SqlDialect::kPostgres) {
    if (first == "COPY")
      return std::string("COPY is refused: it reads or writes files or programs on the database server "
                         "(use conn:query / conn:exec with rows)");
    for (size_t i = begin; i + 1 < end; ++i) {
      if (!is_name(tokens[i]) || tokens[i + 1].kind != SqlToken::Kind::kSymbol || tokens[i + 1].text != "(") continue;
      for (const auto& rule : kPostgresFunctions)
        if (matches(tokens[i].text, rule.name))
          return lower(tokens[i].text) + "() is refused: " + std::string(rule.why);
    }
    return std::nullopt;
  }
  if (first == "LOAD" && (word_at(begin + 1) == "DATA" || word_at(begin + 1) == "XML"))
    return "LOAD " + word_at(begin + 1) + " is refused: it reads files on the database server or the host "
           "(insert the rows with conn:exec)";
  for (size_t i = begin; i + 1 < end; ++i) {
    if (tokens[i].kind == SqlToken::Kind::kWord && tokens[i].text == "INTO" &&
        (word_at(i + 1) == "OUTFILE" || word_at(i + 1) == "DUMPFILE"))
      return "SELECT ... INTO " + word_at(i + 1) + " is refused: it writes a file on the database server "
             "(select the rows with conn:query)";
    if (is_name(tokens[i]) && tokens[i].text == "LOAD_FILE" && tokens[i + 1].kind == SqlToken::Kind::kSymbol &&
        tokens[i + 1].text == "(")
      return std::string("load_file() is refused: it reads a file on the database server");
  }
  return std::nullopt;
}

}  // namespace

SqlText scan_sql(std::string_view sql, SqlDialect dialect) { return Scanner(sql, dialect).run(); }

std::optional<std::string> sql_refusal(const SqlText& text, SqlDialect dialect) {
  if (text.statements > 1)
    return "one SQL statement per call: this SQL holds " + std::to_string(text.statements) +
           " (run them one at a time, inside conn:transaction when they belong together)";
  size_t begin = 0;
  for (size_t i = 0; i <= text.tokens.size(); ++i) {
    if (i < text.tokens.size() && text.tokens[i].kind != SqlToken::Kind::kSemicolon) continue;
    if (auto why = statement_refusal(text.tokens, begin, i, dialect)) return why;
    begin = i + 1;
  }
  return std::nullopt;
}

}  // namespace cronhost::api
