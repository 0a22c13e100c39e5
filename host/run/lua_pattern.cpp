#include "run/lua_pattern.hpp"

#include <cctype>
#include <cstring>
#include <string_view>

#include "run/lua_guards.hpp"

namespace cronhost::run {
namespace {

constexpr int kMaxCaptures = 32;  // LUA_MAXCAPTURES, as in the stock library
constexpr int kMaxDepth = 200;    // the stock matcher's recursion limit ("pattern too complex")
constexpr ptrdiff_t kUnfinished = -1;
constexpr ptrdiff_t kPosition = -2;
constexpr char kEscape = '%';
constexpr std::string_view kSpecials = "^$*+?.([%-";
// Matcher steps between two stop checks. A step costs a few nanoseconds, so checking every
// 4096 steps stops a run well within a millisecond of its deadline and costs nothing
// measurable (the check reads an atomic and the steady clock).
constexpr unsigned kStepsPerCheck = 4096;

unsigned char byte_at(const char* p) { return static_cast<unsigned char>(*p); }

// Counts steps and calls the stop check every kStepsPerCheck of them.
class Stepper {
 public:
  Stepper(lua_State* L, lua_CFunction check) : L_(L), check_(check) {}
  void step(unsigned n = 1) {
    steps_ += n;
    if (steps_ < kStepsPerCheck) return;
    steps_ = 0;
    if (check_) check_(L_);
  }

 private:
  lua_State* L_;
  lua_CFunction check_;
  unsigned steps_ = 0;
};

bool match_class(int c, int cl) {
  bool res;
  switch (std::tolower(cl)) {
    case 'a': res = std::isalpha(c); break;
    case 'c': res = std::iscntrl(c); break;
    case 'd': res = std::isdigit(c); break;
    case 'g': res = std::isgraph(c); break;
    case 'l': res = std::islower(c); break;
    case 'p': res = std::ispunct(c); break;
    case 's': res = std::isspace(c); break;
    case 'u': res = std::isupper(c); break;
    case 'w': res = std::isalnum(c); break;
    case 'x': res = std::isxdigit(c); break;
    case 'z': res = c == 0; break;  // deprecated, and still in Debian's build of the stock library
    default: return cl == c;
  }
  return std::isupper(cl) ? !res : res;
}

// Whether c is in the set [ ... ] that starts at p ('[') and ends at end (']').
bool match_set(int c, const char* p, const char* end) {
  bool in = true;
  if (p[1] == '^') {
    in = false;
    ++p;
  }
  while (++p < end) {
    if (*p == kEscape) {
      ++p;
      if (match_class(c, byte_at(p))) return in;
    } else if (p[1] == '-' && p + 2 < end) {
      p += 2;
      if (byte_at(p - 2) <= c && c <= byte_at(p)) return in;
    } else if (byte_at(p) == c) {
      return in;
    }
  }
  return !in;
}

// One match attempt of a pattern over a subject. Both are Lua strings, which end with a '\0'
// past their length: like the stock matcher, this one reads that byte at the end of either.
class Matcher {
 public:
  Matcher(lua_State* L, const char* subject, size_t subject_len, const char* pattern, size_t pattern_len,
          lua_CFunction check)
      : L_(L), src_init_(subject), src_end_(subject + subject_len), p_end_(pattern + pattern_len), stepper_(L, check) {}

  // Before each attempt at a new position.
  void reset() {
    level_ = 0;
    depth_ = kMaxDepth;
  }
  void step() { stepper_.step(); }
  const char* subject_end() const { return src_end_; }
  int captures() const { return level_; }

  // Where a match of the pattern from p, at s, ends; null: no match.
  const char* match(const char* s, const char* p);

  // Pushes the captures of the match [s, e); the whole match when it has none and s is given.
  int push_captures(const char* s, const char* e) {
    const int n = (level_ == 0 && s) ? 1 : level_;
    luaL_checkstack(L_, n, "too many captures");
    for (int i = 0; i < n; ++i) push_capture(i, s, e);
    return n;
  }
  void push_capture(int i, const char* s, const char* e) {
    const char* text = nullptr;
    const ptrdiff_t len = get_capture(i, s, e, &text);
    if (len != kPosition) lua_pushlstring(L_, text, static_cast<size_t>(len));
  }
  // Capture i's text and length; for a position capture, pushes the position and returns kPosition.
  ptrdiff_t get_capture(int i, const char* s, const char* e, const char** text) {
    if (i >= level_) {
      if (i != 0) luaL_error(L_, "invalid capture index %%%d", i + 1);
      *text = s;
      return e - s;
    }
    const Capture& capture = captures_[i];
    *text = capture.init;
    if (capture.len == kUnfinished) luaL_error(L_, "unfinished capture");
    if (capture.len == kPosition) lua_pushinteger(L_, (capture.init - src_init_) + 1);
    return capture.len;
  }

 private:
  struct Capture {
    const char* init;
    ptrdiff_t len;
  };

  // Where the single-character class at p ends.
  const char* class_end(const char* p) const {
    const char c = *p++;
    if (c == kEscape) {
      if (p == p_end_) luaL_error(L_, "malformed pattern (ends with '%%')");
      return p + 1;
    }
    if (c == '[') {
      if (*p == '^') ++p;
      do {  // the first character of a set is never its closing ']'
        if (p == p_end_) luaL_error(L_, "malformed pattern (missing ']')");
        if (*(p++) == kEscape && p < p_end_) ++p;
      } while (*p != ']');
      return p + 1;
    }
    return p;
  }

  bool single_match(const char* s, const char* p, const char* ep) const {
    if (s >= src_end_) return false;
    const int c = byte_at(s);
    switch (*p) {
      case '.': return true;
      case kEscape: return match_class(c, byte_at(p + 1));
      case '[': return match_set(c, p, ep - 1);
      default: return byte_at(p) == c;
    }
  }

  const char* match_balance(const char* s, const char* p) {
    if (p >= p_end_ - 1) luaL_error(L_, "malformed pattern (missing arguments to '%%b')");
    if (*s != *p) return nullptr;
    const char open = p[0];
    const char close = p[1];
    int depth = 1;
    while (++s < src_end_) {
      step();
      if (*s == close) {
        if (--depth == 0) return s + 1;
      } else if (*s == open) {
        ++depth;
      }
    }
    return nullptr;
  }

  const char* max_expand(const char* s, const char* p, const char* ep) {
    ptrdiff_t i = 0;
    while (single_match(s + i, p, ep)) {
      ++i;
      step();
    }
    for (; i >= 0; --i)  // the longest run first, then shorter ones
      if (const char* res = match(s + i, ep + 1)) return res;
    return nullptr;
  }

  const char* min_expand(const char* s, const char* p, const char* ep) {
    for (;;) {
      if (const char* res = match(s, ep + 1)) return res;
      if (!single_match(s, p, ep)) return nullptr;
      ++s;
    }
  }

  const char* start_capture(const char* s, const char* p, ptrdiff_t what) {
    if (level_ >= kMaxCaptures) luaL_error(L_, "too many captures");
    captures_[level_] = {s, what};
    ++level_;
    const char* res = match(s, p);
    if (!res) --level_;
    return res;
  }

  const char* end_capture(const char* s, const char* p) {
    const int l = capture_to_close();
    captures_[l].len = s - captures_[l].init;
    const char* res = match(s, p);
    if (!res) captures_[l].len = kUnfinished;
    return res;
  }

  int capture_to_close() const {
    for (int level = level_ - 1; level >= 0; --level)
      if (captures_[level].len == kUnfinished) return level;
    return luaL_error(L_, "invalid pattern capture");
  }

  const char* match_capture(const char* s, int digit) {
    const int l = digit - '1';
    if (l < 0 || l >= level_ || captures_[l].len == kUnfinished) luaL_error(L_, "invalid capture index %%%d", l + 1);
    // A position capture's length is negative: as a size it is huge and never matches.
    const auto len = static_cast<size_t>(captures_[l].len);
    if (static_cast<size_t>(src_end_ - s) >= len && std::memcmp(captures_[l].init, s, len) == 0) return s + len;
    return nullptr;
  }

  lua_State* L_;
  const char* src_init_;
  const char* src_end_;
  const char* p_end_;
  Stepper stepper_;
  int level_ = 0;
  int depth_ = kMaxDepth;
  Capture captures_[kMaxCaptures];
};

const char* Matcher::match(const char* s, const char* p) {
  if (depth_-- == 0) luaL_error(L_, "pattern too complex");
  // Each `continue` goes on with the next pattern item at the same depth (the stock
  // matcher's `goto init`); each `goto done` returns s.
  for (;;) {
    step();
    if (p == p_end_) break;
    switch (*p) {
      case '(':
        s = p[1] == ')' ? start_capture(s, p + 2, kPosition) : start_capture(s, p + 1, kUnfinished);
        goto done;
      case ')':
        s = end_capture(s, p + 1);
        goto done;
      case '$':
        if (p + 1 != p_end_) break;  // not at the end: an ordinary character
        s = s == src_end_ ? s : nullptr;
        goto done;
      case kEscape:
        switch (p[1]) {
          case 'b':
            s = match_balance(s, p + 2);
            if (s) {
              p += 4;
              continue;
            }
            goto done;
          case 'f': {
            p += 2;
            if (*p != '[') luaL_error(L_, "missing '[' after '%%f' in pattern");
            const char* ep = class_end(p);
            const int previous = s == src_init_ ? '\0' : byte_at(s - 1);
            if (!match_set(previous, p, ep - 1) && match_set(byte_at(s), p, ep - 1)) {
              p = ep;
              continue;
            }
            s = nullptr;
            goto done;
          }
          case '0': case '1': case '2': case '3': case '4':
          case '5': case '6': case '7': case '8': case '9':
            s = match_capture(s, byte_at(p + 1));
            if (s) {
              p += 2;
              continue;
            }
            goto done;
          default: break;
        }
        break;
      default: break;
    }
    // A single-character class, perhaps followed by a repetition.
    const char* ep = class_end(p);
    if (!single_match(s, p, ep)) {
      if (*ep == '*' || *ep == '?' || *ep == '-') {  // accepts zero of it
        p = ep + 1;
        continue;
      }
      s = nullptr;
      break;
    }
    switch (*ep) {
      case '?':
        if (const char* res = match(s + 1, ep + 1)) {
          s = res;
          break;
        }
        p = ep + 1;
        continue;
      case '+': s = max_expand(s + 1, p, ep); break;
      case '*': s = max_expand(s, p, ep); break;
      case '-': s = min_expand(s, p, ep); break;
      default:
        ++s;
        p = ep;
        continue;
    }
    break;
  }
done:
  ++depth_;
  return s;
}

// The stock library's posrelatI: a 1-based start position from a possibly negative one.
size_t start_position(lua_Integer pos, size_t len) {
  if (pos > 0) return static_cast<size_t>(pos);
  if (pos == 0) return 1;
  if (pos < -static_cast<lua_Integer>(len)) return 1;
  return len + static_cast<size_t>(pos) + 1;
}

lua_CFunction stop_check(lua_State* L) { return lua_tocfunction(L, lua_upvalueindex(1)); }

// A plain substring search, stepping as it goes: memchr for the first byte, then a compare.
const char* find_plain(const char* s, size_t ls, const char* p, size_t lp, Stepper& stepper) {
  if (lp == 0) return s;
  if (lp > ls) return nullptr;
  const char* const last = s + (ls - lp);  // the last place a match can start
  for (const char* at = s; at <= last; ++at) {
    at = static_cast<const char*>(std::memchr(at, p[0], static_cast<size_t>(last - at) + 1));
    if (!at) return nullptr;
    stepper.step(1 + static_cast<unsigned>(lp / 64));  // a compare of lp bytes costs about that
    if (std::memcmp(at + 1, p + 1, lp - 1) == 0) return at;
  }
  return nullptr;
}

int find_or_match(lua_State* L, bool find) {
  size_t ls = 0, lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  const size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls) {
    luaL_pushfail(L);
    return 1;
  }
  const lua_CFunction check = stop_check(L);
  if (find && (lua_toboolean(L, 4) || std::string_view(p, lp).find_first_of(kSpecials) == std::string_view::npos)) {
    Stepper stepper(L, check);
    if (const char* at = find_plain(s + init, ls - init, p, lp, stepper)) {
      lua_pushinteger(L, (at - s) + 1);
      lua_pushinteger(L, static_cast<lua_Integer>((at - s) + lp));
      return 2;
    }
  } else {
    const char* s1 = s + init;
    const bool anchor = *p == '^';
    if (anchor) {
      ++p;
      --lp;
    }
    Matcher m(L, s, ls, p, lp, check);
    do {
      m.reset();
      if (const char* end = m.match(s1, p)) {
        if (!find) return m.push_captures(s1, end);
        lua_pushinteger(L, (s1 - s) + 1);
        lua_pushinteger(L, end - s);
        return m.push_captures(nullptr, nullptr) + 2;
      }
    } while (s1++ < m.subject_end() && !anchor);
  }
  luaL_pushfail(L);
  return 1;
}

int str_find(lua_State* L) { return find_or_match(L, true); }
int str_match(lua_State* L) { return find_or_match(L, false); }

// gmatch's iterator state: where the next search starts and where the last match ended
// (offsets into the subject; -1: none yet), so an empty match is not found twice.
struct GmatchState {
  size_t next;
  ptrdiff_t last_match;
};

// Upvalues: the stop check, the subject, the pattern, the GmatchState.
int gmatch_next(lua_State* L) {
  size_t ls = 0, lp = 0;
  const char* s = lua_tolstring(L, lua_upvalueindex(2), &ls);
  const char* p = lua_tolstring(L, lua_upvalueindex(3), &lp);
  auto* state = static_cast<GmatchState*>(lua_touserdata(L, lua_upvalueindex(4)));
  Matcher m(L, s, ls, p, lp, stop_check(L));
  for (const char* src = s + state->next; src <= m.subject_end(); ++src) {
    m.reset();
    const char* end = m.match(src, p);
    if (end && end - s != state->last_match) {
      state->next = static_cast<size_t>(end - s);
      state->last_match = end - s;
      return m.push_captures(src, end);
    }
  }
  state->next = ls + 1;  // done: later calls find nothing either
  return 0;
}

int str_gmatch(lua_State* L) {
  size_t ls = 0;
  luaL_checklstring(L, 1, &ls);
  luaL_checkstring(L, 2);
  size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls) init = ls + 1;  // start past the end: no match
  lua_settop(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  auto* state = static_cast<GmatchState*>(lua_newuserdatauv(L, sizeof(GmatchState), 0));
  *state = {init, -1};
  lua_pushcclosure(L, gmatch_next, 4);
  return 1;
}

// gsub's string replacement: %0-%9 and %%.
void add_string(Matcher& m, lua_State* L, luaL_Buffer* b, const char* s, const char* e) {
  size_t l = 0;
  const char* news = lua_tolstring(L, 3, &l);
  const char* p;
  while ((p = static_cast<const char*>(std::memchr(news, kEscape, l))) != nullptr) {
    luaL_addlstring(b, news, static_cast<size_t>(p - news));
    ++p;  // the character after '%' ('\0' at the end of the string)
    if (*p == kEscape) {
      luaL_addchar(b, *p);
    } else if (*p == '0') {
      luaL_addlstring(b, s, static_cast<size_t>(e - s));
    } else if (std::isdigit(byte_at(p))) {
      const char* text = nullptr;
      const ptrdiff_t len = m.get_capture(*p - '1', s, e, &text);
      if (len == kPosition) luaL_addvalue(b);  // the position get_capture pushed
      else luaL_addlstring(b, text, static_cast<size_t>(len));
    } else {
      luaL_error(L, "invalid use of '%c' in replacement string", kEscape);
    }
    l -= static_cast<size_t>(p + 1 - news);
    news = p + 1;
  }
  luaL_addlstring(b, news, l);
}

// Adds the replacement of the match [s, e); false when the match is kept as it was.
bool add_value(Matcher& m, lua_State* L, luaL_Buffer* b, const char* s, const char* e, int replacement_type) {
  switch (replacement_type) {
    case LUA_TFUNCTION: {
      lua_pushvalue(L, 3);
      const int n = m.push_captures(s, e);
      lua_call(L, n, 1);
      break;
    }
    case LUA_TTABLE:
      m.push_capture(0, s, e);
      lua_gettable(L, 3);
      break;
    default:
      add_string(m, L, b, s, e);
      return true;
  }
  if (!lua_toboolean(L, -1)) {  // nil or false: keep the original text
    lua_pop(L, 1);
    luaL_addlstring(b, s, static_cast<size_t>(e - s));
    return false;
  }
  if (!lua_isstring(L, -1)) return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  luaL_addvalue(b);
  return true;
}

int str_gsub(lua_State* L) {
  size_t srcl = 0, lp = 0;
  const char* src = luaL_checklstring(L, 1, &srcl);
  const char* p = luaL_checklstring(L, 2, &lp);
  const char* last_match = nullptr;
  const int replacement_type = lua_type(L, 3);
  const lua_Integer max_replacements = luaL_optinteger(L, 4, static_cast<lua_Integer>(srcl) + 1);
  const bool anchor = *p == '^';
  lua_Integer n = 0;
  bool changed = false;
  luaL_argexpected(L,
                   replacement_type == LUA_TNUMBER || replacement_type == LUA_TSTRING ||
                       replacement_type == LUA_TFUNCTION || replacement_type == LUA_TTABLE,
                   3, "string/function/table");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (anchor) {
    ++p;
    --lp;
  }
  Matcher m(L, src, srcl, p, lp, stop_check(L));
  while (n < max_replacements) {
    m.reset();
    const char* e = m.match(src, p);
    if (e && e != last_match) {
      ++n;
      changed = add_value(m, L, &b, src, e, replacement_type) || changed;
      src = last_match = e;
    } else if (src < m.subject_end()) {
      m.step();
      luaL_addchar(&b, *src++);
    } else {
      break;
    }
    if (anchor) break;
  }
  if (!changed) {
    lua_pushvalue(L, 1);
  } else {
    luaL_addlstring(&b, src, static_cast<size_t>(m.subject_end() - src));
    luaL_pushresult(&b);
  }
  lua_pushinteger(L, n);
  return 2;
}

}  // namespace

void open_bounded_patterns(lua_State* L, lua_CFunction check) {
  const luaL_Reg functions[] = {
      {"find", str_find}, {"match", str_match}, {"gmatch", str_gmatch}, {"gsub", str_gsub}, {nullptr, nullptr}};
  lua_getglobal(L, LUA_STRLIBNAME);
  push_stop_check(L, check);
  luaL_setfuncs(L, functions, 1);
  lua_pop(L, 1);
}

}  // namespace cronhost::run
