#pragma once

// Value types shared by commands: sequence sets, dates, generic argument tokens.
//
// Strings are std::string_view. In a parsed Command they point into the command's own storage (kept alive
// by Command::storage), so a Command can be copied and moved freely. When you build values by hand for the
// Serializer, the views must outlive the serialisation.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pimap::imap {

// Sequence numbers and UIDs are non-zero 32-bit numbers (RFC 9051 nz-number), so 0 is free to stand for
// "*" (the largest number in use).
inline constexpr std::uint32_t kStar = 0;

// One element of a sequence set; `first` and `last` as sent ("5:3" stays {5,3}; "7" is {7,7}).
struct SeqRange {
  std::uint32_t first = 1;
  std::uint32_t last = 1;
  bool operator==(const SeqRange&) const = default;
};

struct SequenceSet {
  // "$": the saved SEARCH result (RFC 5182). `ranges` is then empty.
  bool saved = false;
  std::vector<SeqRange> ranges;

  static SequenceSet single(std::uint32_t n) { return SequenceSet{false, {{n, n}}}; }
  static SequenceSet range(std::uint32_t a, std::uint32_t b) { return SequenceSet{false, {{a, b}}}; }
  // Membership with "*" resolved to `largest` (the highest sequence number / UID in the mailbox).
  bool contains(std::uint32_t n, std::uint32_t largest) const;
  bool uses_star() const;
  bool operator==(const SequenceSet&) const = default;
};

// RFC 9051 date: day-month-year, no time, no zone (SEARCH BEFORE/SINCE/...).
struct Date {
  std::uint16_t year = 1970;
  std::uint8_t month = 1;  // 1..12
  std::uint8_t day = 1;    // 1..31
  bool operator==(const Date&) const = default;
};

// RFC 9051 date-time (APPEND): "dd-Mon-yyyy hh:mm:ss +hhmm".
struct DateTime {
  Date date;
  std::uint8_t hour = 0;
  std::uint8_t minute = 0;
  std::uint8_t second = 0;
  std::int16_t zone_minutes = 0;  // east of UTC; "-0800" is -480
  bool operator==(const DateTime&) const = default;
};

// A token of a command whose grammar this library does not model (unknown and extension commands,
// XPROVISION arguments, XMACRO bodies). Enough structure to inspect and re-serialise it; the exact bytes
// stay in `raw` for verbatim passthrough.
struct Arg {
  enum class Kind : std::uint8_t {
    atom,     // any run of atom characters, including bracketed parts: BODY.PEEK[HEADER.FIELDS (A B)]<0.9>
    quoted,   // "..." (text is unescaped)
    literal,  // {n} / {n+} / ~{n}
    list,     // ( items )
  };
  Kind kind = Kind::atom;
  bool binary = false;      // literal8 (~{n}, RFC 3516)
  std::string_view text;    // atom text or string content; empty for lists
  std::string_view raw;     // exact source bytes of the token (empty when built by hand)
  std::vector<Arg> items;   // list members

  bool is_string() const { return kind == Kind::quoted || kind == Kind::literal; }
  bool is_atom(std::string_view upper_case_word) const;  // case-insensitive atom comparison
  // Semantic equality: quoted and literal are the same value; `raw` is ignored.
  friend bool operator==(const Arg& a, const Arg& b);
};

// ASCII case-insensitive equality, the comparison IMAP uses for keywords and command names. Inline: the
// grammar calls it for every keyword it matches.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = a[i];
    const char y = b[i];
    if (x == y) continue;
    const char lx = static_cast<char>(x | 0x20);
    if ((x ^ y) != 0x20 || lx < 'a' || lx > 'z') return false;
  }
  return true;
}

}  // namespace pimap::imap
