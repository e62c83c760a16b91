#pragma once

// Tokeniser over one framed server response (internal to the response parser). Works on views: the
// only copies are unescaped quoted strings, which go to the caller's StringArena. Every function
// returns false on failure and records the first error; callers chain them with &&.

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "pimap/imap/response_error.hpp"
#include "pimap/imap/response_types.hpp"

namespace pimap::imap::detail {

// Character classes as bit masks.
enum : std::uint8_t {
  kEndsAtom = 1,        // CTL, SP, ( ) { " DEL: ends every atom
  kBracket = 2,         // [ ]
  kCloseBracket = 4,    // ]
  kSkipStop = 8,        // ( ) " { CR LF: where the fast skip of a list must look closer
  kDigit = 16,
  kAttNameStop = 32,    // [ ] < : ends a FETCH attribute name (besides kEndsAtom)
};

struct CharTable {
  std::array<std::uint8_t, 256> c{};
  constexpr CharTable() {
    for (int i = 0; i <= 0x20; ++i) c[static_cast<std::size_t>(i)] |= kEndsAtom;
    c[0x7f] |= kEndsAtom;
    for (char ch : {'(', ')', '{', '"'}) c[static_cast<unsigned char>(ch)] |= kEndsAtom;
    c['['] |= kBracket | kAttNameStop;
    c[']'] |= kBracket | kCloseBracket | kAttNameStop;
    c['<'] |= kAttNameStop;
    for (char ch : {'(', ')', '"', '{', '\r', '\n'}) c[static_cast<unsigned char>(ch)] |= kSkipStop;
    for (int i = '0'; i <= '9'; ++i) c[static_cast<std::size_t>(i)] |= kDigit;
  }
  constexpr std::uint8_t operator[](char ch) const { return c[static_cast<unsigned char>(ch)]; }
};
inline constexpr CharTable kChars{};

inline char ascii_upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

// Compares against an upper-case keyword.
inline bool keyword_is(std::string_view s, std::string_view upper) noexcept {
  if (s.size() != upper.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (ascii_upper(s[i]) != upper[i]) return false;
  return true;
}

class Lexer {
 public:
  Lexer(std::string_view body, StringArena& arena, std::size_t max_depth, const char* origin) noexcept
      : origin_(origin), p_(body.data()), end_(body.data() + body.size()), arena_(arena),
        max_depth_(max_depth) {}

  const char* pos() const noexcept { return p_; }
  void set_pos(const char* p) noexcept { p_ = p; }
  const char* end() const noexcept { return end_; }
  bool at_end() const noexcept { return p_ >= end_; }
  char peek() const noexcept { return p_ < end_ ? *p_ : '\0'; }
  const ResponseError& error() const noexcept { return err_; }
  std::string_view rest() const noexcept { return {p_, static_cast<std::size_t>(end_ - p_)}; }

  bool fail(ResponseErrc c, std::string_view expected) noexcept {
    if (!err_) err_ = {c, static_cast<std::size_t>(p_ - origin_), expected};
    return false;
  }
  bool fail_with(const ResponseError& e) noexcept {
    if (!err_) err_ = e.code == ResponseErrc::ok ? ResponseError{ResponseErrc::syntax, 0, {}} : e;
    return false;
  }
  bool fail_syntax(std::string_view expected) noexcept {
    return fail(at_end() ? ResponseErrc::unexpected_end : ResponseErrc::syntax, expected);
  }

  bool eat(char c) noexcept {
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool expect(char c, std::string_view what) noexcept { return eat(c) || fail_syntax(what); }
  bool sp() noexcept { return expect(' ', "SP"); }
  // Lenient: some servers double spaces; IMAP never needs to tell one space from two.
  bool sp_lenient() noexcept {
    if (!eat(' ')) return fail_syntax("SP");
    while (eat(' ')) {
    }
    return true;
  }
  void skip_spaces() noexcept {
    while (p_ < end_ && *p_ == ' ') ++p_;
  }

  // Run of characters outside `stop` classes (kEndsAtom always stops). May be empty.
  std::string_view token(std::uint8_t stop = 0) noexcept {
    const std::uint8_t mask = static_cast<std::uint8_t>(kEndsAtom | stop);
    const char* s = p_;
    while (p_ < end_ && !(kChars[*p_] & mask)) ++p_;
    return {s, static_cast<std::size_t>(p_ - s)};
  }
  bool atom(std::string_view& out, std::uint8_t stop, std::string_view what) noexcept {
    out = token(stop);
    return !out.empty() || fail_syntax(what);
  }

  bool number64(std::uint64_t& out, std::string_view what = "number") noexcept {
    const char* s = p_;
    std::uint64_t v = 0;
    while (p_ < end_ && (kChars[*p_] & kDigit)) {
      const auto d = static_cast<std::uint64_t>(*p_ - '0');
      if (v > (UINT64_MAX - d) / 10) return fail(ResponseErrc::number_overflow, what);
      v = v * 10 + d;
      ++p_;
    }
    if (p_ == s) return fail_syntax(what);
    out = v;
    return true;
  }
  bool number32(std::uint32_t& out, std::string_view what = "number") noexcept {
    std::uint64_t v = 0;
    const char* s = p_;
    if (!number64(v, what)) return false;
    if (v > UINT32_MAX) {
      p_ = s;
      return fail(ResponseErrc::number_overflow, what);
    }
    out = static_cast<std::uint32_t>(v);
    return true;
  }

  // quoted = DQUOTE *QUOTED-CHAR DQUOTE, p_ at the opening quote.
  bool quoted(std::string_view& out) {
    ++p_;
    const char* s = p_;
    bool escapes = false;
    while (p_ < end_) {
      const char c = *p_;
      if (c == '"') {
        std::string_view raw(s, static_cast<std::size_t>(p_ - s));
        ++p_;
        out = escapes ? unescape(raw) : raw;
        return true;
      }
      if (c == '\\') {
        escapes = true;
        if (++p_ >= end_) break;
      } else if (c == '\r' || c == '\n') {
        return fail(ResponseErrc::syntax, "closing '\"'");
      }
      ++p_;
    }
    return fail(ResponseErrc::unexpected_end, "closing '\"'");
  }

  // literal = "{" number64 "}" CRLF *OCTET ; literal8 = "~{" ... ; p_ at '{' (or '~').
  bool literal(std::string_view& out) noexcept {
    if (*p_ == '~') ++p_;
    if (!expect('{', "'{'")) return false;
    std::uint64_t n = 0;
    if (!number64(n, "literal length")) return false;
    eat('+');  // a server never sends LITERAL+ syntax, but it costs nothing to accept
    if (!expect('}', "'}'")) return false;
    eat('\r');
    if (!expect('\n', "CRLF after literal length")) return false;
    if (n > static_cast<std::uint64_t>(end_ - p_)) return fail(ResponseErrc::unexpected_end, "literal data");
    out = {p_, static_cast<std::size_t>(n)};
    p_ += n;
    return true;
  }

  bool is_literal_start() const noexcept {
    return p_ < end_ && (*p_ == '{' || (*p_ == '~' && p_ + 1 < end_ && p_[1] == '{'));
  }

  // string = quoted / literal (literal8 too).
  bool string(std::string_view& out) {
    if (p_ < end_ && *p_ == '"') return quoted(out);
    if (is_literal_start()) return literal(out);
    return fail_syntax("string");
  }

  // astring = 1*ASTRING-CHAR / string. ASTRING-CHAR admits ']' and (leniently) '['.
  bool astring(std::string_view& out) {
    if (p_ < end_ && (*p_ == '"' || *p_ == '{' || *p_ == '~')) {
      if (*p_ != '~' || is_literal_start()) return string(out);
    }
    return atom(out, 0, "astring");
  }

  // nstring = string / NIL.
  bool nstring(NStringView& out) {
    if (p_ < end_ && (*p_ == 'N' || *p_ == 'n')) {
      std::string_view a = token(kBracket);
      if (keyword_is(a, "NIL")) {
        out = {};
        return true;
      }
      p_ = a.data();
      return fail(ResponseErrc::syntax, "nstring");
    }
    out.nil = false;
    return string(out.str);
  }

  // One value of any kind (list, string, atom/number/NIL), returned raw as on the wire.
  bool skip_value(std::string_view& raw) noexcept {
    const char* s = p_;
    if (p_ >= end_) return fail(ResponseErrc::unexpected_end, "value");
    const char c = *p_;
    bool ok;
    if (c == '(') {
      ok = skip_list();
    } else if (c == '"') {
      ok = skip_quoted();
    } else if (is_literal_start()) {
      std::string_view ignored;
      ok = literal(ignored);
    } else {
      // atoms may carry a bracketed section, e.g. BODY[HEADER.FIELDS (A B)]<0> inside a generic value
      ok = !token(0).empty() || fail_syntax("value");
    }
    raw = {s, static_cast<std::size_t>(p_ - s)};
    return ok;
  }

  // p_ at '('; skips the balanced list, honouring quoted strings and literals. The hot loop of the
  // parser: BODYSTRUCTURE and ENVELOPE go through here.
  bool skip_list() noexcept {
    std::size_t depth = 0;
    for (;;) {
      while (p_ < end_ && !(kChars[*p_] & kSkipStop)) ++p_;
      if (p_ >= end_) return fail(ResponseErrc::unexpected_end, "')'");
      switch (*p_) {
        case '(':
          if (++depth > max_depth_) return fail(ResponseErrc::too_deep, "shallower nesting");
          ++p_;
          break;
        case ')':
          ++p_;
          if (--depth == 0) return true;
          break;
        case '"':
          if (!skip_quoted()) return false;
          break;
        case '{': {
          std::string_view ignored;
          if (!literal(ignored)) return false;
          break;
        }
        default:
          return fail(ResponseErrc::syntax, "')'");
      }
    }
  }

  // Enters one level of nesting (for recursive descent parsers built on this lexer).
  bool enter() noexcept {
    if (++depth_ > max_depth_) return fail(ResponseErrc::too_deep, "shallower nesting");
    return true;
  }
  void leave() noexcept { --depth_; }

 private:
  bool skip_quoted() noexcept {
    ++p_;
    while (p_ < end_) {
      const char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        if (++p_ >= end_) break;
      } else if (c == '\r' || c == '\n') {
        return fail(ResponseErrc::syntax, "closing '\"'");
      }
      ++p_;
    }
    return fail(ResponseErrc::unexpected_end, "closing '\"'");
  }

  std::string_view unescape(std::string_view raw) {
    std::string s;
    s.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
      s.push_back(raw[i]);
    }
    return arena_.store(std::move(s));
  }

  const char* origin_;
  const char* p_;
  const char* end_;
  StringArena& arena_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  ResponseError err_;
};

}  // namespace pimap::imap::detail

namespace pimap::imap {
class ResponseTree;
}

namespace pimap::imap::detail {
// Parses space-separated values from the lexer's position to its end into `out` (defined in
// response_tree.cpp).
bool parse_tree_values(Lexer& lx, ResponseTree& out);
}  // namespace pimap::imap::detail
