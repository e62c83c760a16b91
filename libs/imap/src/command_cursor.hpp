#pragma once

// Private to the command parser: a recursive-descent cursor over one complete command (all its lines and
// literals in one buffer). Grammar failures are thrown as GrammarFailure and caught at the single entry
// point (parse_grammar), which turns them into a ParseError; nothing escapes the library.

#include <array>
#include <cstddef>
#include <cstdint>
#include <forward_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pimap/imap/limits.hpp"
#include "pimap/imap/parse_error.hpp"
#include "pimap/imap/values.hpp"

namespace pimap::imap::detail {

// What a parsed Command's views point into.
struct CommandStorage {
  std::string raw;                  // the command as received
  std::forward_list<std::string> owned;  // unescaped quoted strings (list: elements never move, and
                                         // an empty one allocates nothing)
};

struct GrammarFailure {
  ErrorCode code;
  std::string reason;
};

// Character classes of RFC 9051 §9.
namespace chars {
inline constexpr std::uint8_t kAtom = 1;     // ATOM-CHAR
inline constexpr std::uint8_t kAstring = 2;  // ASTRING-CHAR (ATOM-CHAR / "]")
inline constexpr std::uint8_t kTag = 4;      // ASTRING-CHAR except "+"
inline constexpr std::uint8_t kList = 8;     // list-char (ATOM-CHAR / "%" / "*" / "]")
inline constexpr std::uint8_t kQuoted = 16;  // may appear in a quoted string unescaped (not CR/LF/NUL/"/\)
inline constexpr std::uint8_t kBase64 = 32;  // base64 alphabet incl. "="
constexpr std::array<std::uint8_t, 256> build_table() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0x21; c < 0x7f; ++c) {
    const bool atom_special = c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' ||
                              c == '\\' || c == ']';
    std::uint8_t v = 0;
    if (!atom_special) v = kAtom | kAstring | kTag | kList;
    if (c == ']') v = kAstring | kTag | kList;
    if (c == '%' || c == '*') v = kList;
    if (c == '+') v = static_cast<std::uint8_t>(v & ~kTag);
    t[static_cast<std::size_t>(c)] = v;
  }
  for (int c = 1; c < 256; ++c) {
    if (c != '\r' && c != '\n' && c != '"' && c != '\\') t[static_cast<std::size_t>(c)] |= kQuoted;
  }
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] |= kBase64;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] |= kBase64;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] |= kBase64;
  t['+'] |= kBase64;
  t['/'] |= kBase64;
  t['='] |= kBase64;
  return t;
}
inline constexpr std::array<std::uint8_t, 256> kTable = build_table();
inline bool is(char c, std::uint8_t cls) { return (kTable[static_cast<unsigned char>(c)] & cls) != 0; }
}  // namespace chars

class Cursor {
 public:
  Cursor(std::string_view buf, CommandStorage& storage, const ParserLimits& limits)
      : buf_(buf), storage_(storage), limits_(limits) {}

  std::string_view buf() const { return buf_; }
  std::size_t pos() const { return pos_; }
  void set_pos(std::size_t p) { pos_ = p; }
  char peek(std::size_t ahead = 0) const {
    return pos_ + ahead < buf_.size() ? buf_[pos_ + ahead] : '\0';
  }
  bool at_eol() const;
  void expect_eol();  // CRLF (or bare LF) that ends the whole buffer
  // True when another argument follows (consumes the SP); false at end of line.
  bool more();

  [[noreturn]] void fail(std::string reason) const;
  [[noreturn]] void fail(ErrorCode code, std::string reason) const;
  [[noreturn]] void fail_expected(std::string_view what) const;

  void sp();
  bool try_char(char c);
  void expect(char c);
  void count_argument();

  // RAII nesting guard for anything recursive.
  class Depth {
   public:
    explicit Depth(Cursor& c);
    ~Depth() { --c_.depth_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
   private:
    Cursor& c_;
  };

  std::string_view chars_of(std::uint8_t cls, std::string_view what);  // 1* chars of a class
  std::string_view atom() { return chars_of(chars::kAtom, "an atom"); }
  // A keyword: atom characters up to "[" or "<" (so BODY[ and BINARY.PEEK[ split).
  std::string_view word();
  // The next word, if it equals `kw` case-insensitively and ends there (consumed only then).
  bool try_word(std::string_view kw);

  std::string_view quoted();
  // {n} / {n+} / ~{n}: consumes the announcement, line end and data.
  std::string_view literal(bool allow_binary, bool* binary = nullptr);
  std::string_view string();   // quoted / literal
  std::string_view astring();  // atom (with "]") / string
  std::string_view astring(bool* was_atom);
  std::string_view list_mailbox();
  std::string_view flag();
  std::vector<std::string_view> flag_list();

  std::uint32_t number();      // 32-bit, leading zeros allowed
  std::uint32_t nz_number();   // 1..2^32-1, no leading zero
  std::uint64_t number64();    // up to 2^63-1
  std::uint64_t mod_sequence(bool allow_zero);
  SequenceSet sequence_set();
  Date date();                 // date-text, optionally quoted
  DateTime date_time();        // quoted date-time

  Arg arg();                   // a generic token
  std::vector<Arg> args_to_eol();

 private:
  std::uint32_t seq_number();
  std::string_view bracketed_atom_tail(std::size_t start);

  std::string_view buf_;
  std::size_t pos_ = 0;
  CommandStorage& storage_;
  const ParserLimits& limits_;
  std::size_t depth_ = 0;
  std::size_t arguments_ = 0;
};

}  // namespace pimap::imap::detail
