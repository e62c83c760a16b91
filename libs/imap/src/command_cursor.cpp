#include "command_cursor.hpp"

#include <array>
#include <charconv>
#include <cstring>

namespace pimap::imap::detail {



namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string describe(char c) {
  if (c == '\0') return "end of command";
  if (c == '\r' || c == '\n') return "end of line";
  if (c == ' ') return "space";
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
  }
  return std::string("'") + c + "'";
}

constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

bool Cursor::at_eol() const {
  const char c = peek();
  return c == '\n' || (c == '\r' && peek(1) == '\n');
}

void Cursor::expect_eol() {
  if (peek() == '\r') ++pos_;
  if (peek() != '\n') fail_expected("end of line");
  ++pos_;
  if (pos_ != buf_.size()) fail("unexpected data after end of command");
}

bool Cursor::more() {
  if (at_eol()) return false;
  sp();
  return true;
}

void Cursor::fail(std::string reason) const { throw GrammarFailure{ErrorCode::syntax, std::move(reason)}; }

void Cursor::fail(ErrorCode code, std::string reason) const { throw GrammarFailure{code, std::move(reason)}; }

void Cursor::fail_expected(std::string_view what) const {
  fail("expected " + std::string(what) + " at " + describe(peek()));
}

void Cursor::sp() {
  if (peek() != ' ') fail_expected("space");
  ++pos_;
  if (peek() == ' ') fail("two spaces in a row");
}

bool Cursor::try_char(char c) {
  if (peek() != c || pos_ >= buf_.size()) return false;
  ++pos_;
  return true;
}

void Cursor::expect(char c) {
  if (!try_char(c)) fail_expected(std::string("'") + c + "'");
}

void Cursor::count_argument() {
  if (++arguments_ > limits_.max_arguments) {
    fail(ErrorCode::too_many_arguments,
         "more than " + std::to_string(limits_.max_arguments) + " arguments in one command");
  }
}

Cursor::Depth::Depth(Cursor& c) : c_(c) {
  if (++c_.depth_ > c_.limits_.max_nesting_depth) {
    c_.fail(ErrorCode::nesting_too_deep,
            "nesting deeper than " + std::to_string(c_.limits_.max_nesting_depth) + " levels");
  }
}

std::string_view Cursor::chars_of(std::uint8_t cls, std::string_view what) {
  const std::size_t start = pos_;
  while (pos_ < buf_.size() && chars::is(buf_[pos_], cls)) ++pos_;
  if (pos_ == start) fail_expected(what);
  count_argument();
  return buf_.substr(start, pos_ - start);
}

std::string_view Cursor::word() {
  const std::size_t start = pos_;
  while (pos_ < buf_.size() && chars::is(buf_[pos_], chars::kAtom) && buf_[pos_] != '[' &&
         buf_[pos_] != '<') {
    ++pos_;
  }
  if (pos_ == start) fail_expected("a keyword");
  count_argument();
  return buf_.substr(start, pos_ - start);
}

bool Cursor::try_word(std::string_view kw) {
  if (buf_.size() - pos_ < kw.size() || !iequals(buf_.substr(pos_, kw.size()), kw)) return false;
  const char after = peek(kw.size());
  if (after != ' ' && after != '\r' && after != '\n' && after != ')' && after != '\0') return false;
  pos_ += kw.size();
  count_argument();
  return true;
}

std::string_view Cursor::quoted() {
  expect('"');
  count_argument();
  const std::size_t start = pos_;
  bool escaped = false;
  for (;;) {
    if (pos_ >= buf_.size()) fail("unterminated quoted string");
    const char c = buf_[pos_];
    if (c == '"') break;
    if (c == '\\') {
      const char n = peek(1);
      if (n != '"' && n != '\\') fail("invalid escape in quoted string (only \\\" and \\\\)");
      escaped = true;
      pos_ += 2;
      continue;
    }
    if (!chars::is(c, chars::kQuoted)) fail("invalid " + describe(c) + " in quoted string");
    ++pos_;
  }
  const std::string_view body = buf_.substr(start, pos_ - start);
  ++pos_;  // closing quote
  if (!escaped) return body;
  std::string& out = storage_.owned.emplace_front();
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\') ++i;
    out.push_back(body[i]);
  }
  return out;
}

std::string_view Cursor::literal(bool allow_binary, bool* binary) {
  bool is_binary = false;
  if (peek() == '~') {
    if (!allow_binary) fail("binary literal ~{n} is only allowed for APPEND data");
    is_binary = true;
    ++pos_;
  }
  expect('{');
  const std::size_t digits = pos_;
  std::uint64_t n = 0;
  while (is_digit(peek())) {
    if (n > 1'000'000'000'000ull) fail(ErrorCode::literal_too_large, "literal size out of range");
    n = n * 10 + static_cast<std::uint64_t>(peek() - '0');
    ++pos_;
  }
  if (pos_ == digits) fail("literal without a size");
  try_char('+');
  expect('}');
  if (peek() == '\r') ++pos_;
  if (peek() != '\n') fail("a literal announcement must end the line");
  ++pos_;
  if (buf_.size() - pos_ < n) fail("literal shorter than announced");
  const std::string_view data = buf_.substr(pos_, static_cast<std::size_t>(n));
  if (!is_binary && std::memchr(data.data(), '\0', data.size()) != nullptr) {
    fail("NUL in a literal (use a binary literal ~{n})");
  }
  pos_ += static_cast<std::size_t>(n);
  count_argument();
  if (binary != nullptr) *binary = is_binary;
  return data;
}

std::string_view Cursor::string() {
  const char c = peek();
  if (c == '"') return quoted();
  if (c == '{') return literal(false);
  fail_expected("a string");
}

std::string_view Cursor::astring(bool* was_atom) {
  const char c = peek();
  *was_atom = c != '"' && c != '{';
  if (*was_atom) return chars_of(chars::kAstring, "a string or atom");
  return string();
}

std::string_view Cursor::astring() {
  bool was_atom = false;
  return astring(&was_atom);
}

std::string_view Cursor::list_mailbox() {
  const char c = peek();
  if (c == '"' || c == '{') return string();
  return chars_of(chars::kList, "a mailbox pattern");
}

std::string_view Cursor::flag() {
  const std::size_t start = pos_;
  if (try_char('\\')) {
    while (pos_ < buf_.size() && chars::is(buf_[pos_], chars::kAtom)) ++pos_;
    if (pos_ == start + 1) fail_expected("a flag name after '\\'");
    count_argument();
    return buf_.substr(start, pos_ - start);
  }
  return chars_of(chars::kAtom, "a flag");
}

std::vector<std::string_view> Cursor::flag_list() {
  expect('(');
  count_argument();
  std::vector<std::string_view> flags;
  if (try_char(')')) return flags;
  for (;;) {
    flags.push_back(flag());
    if (try_char(')')) return flags;
    sp();
  }
}

std::uint32_t Cursor::number() {
  const std::uint64_t n = number64();
  if (n > 0xffffffffull) fail("number " + std::to_string(n) + " out of 32-bit range");
  return static_cast<std::uint32_t>(n);
}

std::uint32_t Cursor::nz_number() {
  if (peek() == '0') fail("expected a non-zero number without leading zeros");
  return number();
}

std::uint64_t Cursor::number64() {
  const std::size_t start = pos_;
  std::uint64_t n = 0;
  while (is_digit(peek())) {
    if (n > (0x7fffffffffffffffull - 9) / 10) fail("number out of range");
    n = n * 10 + static_cast<std::uint64_t>(peek() - '0');
    ++pos_;
  }
  if (pos_ == start) fail_expected("a number");
  count_argument();
  return n;
}

std::uint64_t Cursor::mod_sequence(bool allow_zero) {
  if (!allow_zero && peek() == '0') fail("mod-sequence must be a non-zero number without leading zeros");
  return number64();
}

std::uint32_t Cursor::seq_number() {
  if (try_char('*')) return kStar;
  if (peek() == '0') {
    fail(is_digit(peek(1)) ? "leading zero in a sequence number" : "0 is not a valid sequence number or UID");
  }
  if (!is_digit(peek())) fail_expected("a sequence number");
  return number();
}

SequenceSet Cursor::sequence_set() {
  SequenceSet set;
  if (try_char('$')) {
    count_argument();
    set.saved = true;
    return set;
  }
  for (;;) {
    SeqRange r;
    r.first = seq_number();
    r.last = try_char(':') ? seq_number() : r.first;
    set.ranges.push_back(r);
    if (!try_char(',')) return set;
  }
}

Date Cursor::date() {
  const bool quoted_form = try_char('"');
  Date d;
  const std::size_t start = pos_;
  unsigned day = 0;
  while (is_digit(peek()) && pos_ - start < 2) day = day * 10 + static_cast<unsigned>(buf_[pos_++] - '0');
  if (pos_ == start) fail_expected("a date (d-Mon-yyyy)");
  expect('-');
  const std::string_view mon = buf_.substr(pos_, 3);
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (iequals(mon, kMonths[i])) month = i + 1;
  }
  if (month == 0) fail("invalid month in date");
  pos_ += 3;
  expect('-');
  unsigned year = 0;
  for (int i = 0; i < 4; ++i) {
    if (!is_digit(peek())) fail("expected a 4-digit year");
    year = year * 10 + static_cast<unsigned>(buf_[pos_++] - '0');
  }
  if (day < 1 || day > 31) fail("invalid day in date");
  if (quoted_form) expect('"');
  count_argument();
  d.year = static_cast<std::uint16_t>(year);
  d.month = static_cast<std::uint8_t>(month);
  d.day = static_cast<std::uint8_t>(day);
  return d;
}

DateTime Cursor::date_time() {
  expect('"');
  auto two = [this](const char* what) {
    if (!is_digit(peek()) || !is_digit(peek(1))) fail(std::string("expected two digits for the ") + what);
    const unsigned v = static_cast<unsigned>(peek() - '0') * 10 + static_cast<unsigned>(peek(1) - '0');
    pos_ += 2;
    return v;
  };
  DateTime dt;
  unsigned day = 0;
  if (peek() == ' ' && is_digit(peek(1))) {
    day = static_cast<unsigned>(peek(1) - '0');
    pos_ += 2;
  } else {
    day = two("day");
  }
  if (day < 1 || day > 31) fail("invalid day in date-time");
  expect('-');
  const std::string_view mon = buf_.substr(pos_, 3);
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (iequals(mon, kMonths[i])) month = i + 1;
  }
  if (month == 0) fail("invalid month in date-time");
  pos_ += 3;
  expect('-');
  const unsigned century = two("year");
  const unsigned year = century * 100 + two("year");
  expect(' ');
  const unsigned hour = two("hour");
  expect(':');
  const unsigned minute = two("minute");
  expect(':');
  const unsigned second = two("second");
  if (hour > 23 || minute > 59 || second > 60) fail("invalid time in date-time");
  expect(' ');
  const char sign = peek();
  if (sign != '+' && sign != '-') fail_expected("a zone (+hhmm or -hhmm)");
  ++pos_;
  const unsigned zh = two("zone");
  const unsigned zm = two("zone");
  if (zm > 59) fail("invalid zone in date-time");
  expect('"');
  count_argument();
  dt.date = Date{static_cast<std::uint16_t>(year), static_cast<std::uint8_t>(month),
                 static_cast<std::uint8_t>(day)};
  dt.hour = static_cast<std::uint8_t>(hour);
  dt.minute = static_cast<std::uint8_t>(minute);
  dt.second = static_cast<std::uint8_t>(second);
  const int zone = static_cast<int>(zh * 60 + zm);
  dt.zone_minutes = static_cast<std::int16_t>(sign == '-' ? -zone : zone);
  return dt;
}

// Generic atoms: anything but ( ) { SP CTL DQUOTE, with "[...]" parts that may hold spaces, parentheses
// and quoted strings (BODY.PEEK[HEADER.FIELDS (FROM "X-Y")]<0.100>).
std::string_view Cursor::bracketed_atom_tail(std::size_t start) {
  int brackets = 0;
  while (pos_ < buf_.size()) {
    const char c = buf_[pos_];
    if (c == '[') {
      if (++brackets > static_cast<int>(limits_.max_nesting_depth)) {
        fail(ErrorCode::nesting_too_deep, "brackets nested too deep");
      }
      ++pos_;
      continue;
    }
    if (brackets > 0) {
      if (c == ']') {
        --brackets;
        ++pos_;
      } else if (c == '"') {
        quoted();
      } else if (c == '{' || (c == '~' && peek(1) == '{')) {
        literal(true);
      } else if (c == '\r' || c == '\n' || c == '\0') {
        fail("unbalanced '[' in argument");
      } else {
        ++pos_;
      }
      continue;
    }
    const bool ok = chars::is(c, chars::kList) || c == '\\';
    if (!ok) break;
    ++pos_;
  }
  if (brackets > 0) fail("unbalanced '[' in argument");
  if (pos_ == start) fail_expected("an argument");
  return buf_.substr(start, pos_ - start);
}

Arg Cursor::arg() {
  const std::size_t start = pos_;
  Arg a;
  const char c = peek();
  if (c == '(') {
    Depth depth(*this);
    ++pos_;
    count_argument();
    a.kind = Arg::Kind::list;
    if (!try_char(')')) {
      for (;;) {
        a.items.push_back(arg());
        if (try_char(')')) break;
        sp();
      }
    }
  } else if (c == '"') {
    a.kind = Arg::Kind::quoted;
    a.text = quoted();
  } else if (c == '{' || (c == '~' && peek(1) == '{')) {
    a.kind = Arg::Kind::literal;
    a.text = literal(true, &a.binary);
  } else {
    a.kind = Arg::Kind::atom;
    a.text = bracketed_atom_tail(start);
    count_argument();
  }
  a.raw = buf_.substr(start, pos_ - start);
  return a;
}

std::vector<Arg> Cursor::args_to_eol() {
  std::vector<Arg> args;
  while (more()) args.push_back(arg());
  return args;
}

}  // namespace pimap::imap::detail
