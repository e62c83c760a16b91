#include "pimap/imap/response_types.hpp"

#include <algorithm>

namespace pimap::imap {

namespace {

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool is_space_or_paren(char c) noexcept { return c == ' ' || c == '(' || c == ')'; }

// Parses a decimal number (or `*` as UINT32_MAX) at the front of `s`; false if none or too big.
bool take_number(std::string_view& s, std::uint32_t& out) noexcept {
  if (!s.empty() && s.front() == '*') {
    out = UINT32_MAX;
    s.remove_prefix(1);
    return true;
  }
  std::uint64_t v = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (v > UINT32_MAX) return false;
  }
  if (i == 0 || v == 0) return false;
  out = static_cast<std::uint32_t>(v);
  s.remove_prefix(i);
  return true;
}

}  // namespace

bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

void AtomList::iterator::advance() noexcept {
  std::size_t i = 0;
  while (i < rest_.size() && is_space_or_paren(rest_[i])) ++i;
  std::size_t j = i;
  while (j < rest_.size() && !is_space_or_paren(rest_[j])) ++j;
  if (i == j) {
    cur_ = {};
    rest_ = {};
    return;
  }
  cur_ = rest_.substr(i, j - i);
  rest_.remove_prefix(j);
}

std::size_t AtomList::size() const noexcept {
  return static_cast<std::size_t>(std::distance(begin(), end()));
}

bool AtomList::contains(std::string_view atom) const noexcept {
  return std::any_of(begin(), end(), [&](std::string_view a) { return ascii_iequals(a, atom); });
}

bool AtomList::contains_prefix(std::string_view prefix) const noexcept {
  return std::any_of(begin(), end(), [&](std::string_view a) {
    return a.size() >= prefix.size() && ascii_iequals(a.substr(0, prefix.size()), prefix);
  });
}

void NumberSet::iterator::advance() noexcept {
  if (rest_.empty()) {
    at_end_ = true;
    return;
  }
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  if (!take_number(rest_, a)) {
    at_end_ = true;
    return;
  }
  b = a;
  if (!rest_.empty() && rest_.front() == ':') {
    rest_.remove_prefix(1);
    if (!take_number(rest_, b)) {
      at_end_ = true;
      return;
    }
  }
  if (!rest_.empty() && rest_.front() == ',') rest_.remove_prefix(1);
  cur_ = {std::min(a, b), std::max(a, b)};
}

bool NumberSet::valid(std::string_view raw) noexcept {
  if (raw.empty()) return false;
  for (;;) {
    std::uint32_t n = 0;
    if (!take_number(raw, n)) return false;
    if (!raw.empty() && raw.front() == ':') {
      raw.remove_prefix(1);
      if (!take_number(raw, n)) return false;
    }
    if (raw.empty()) return true;
    if (raw.front() != ',') return false;
    raw.remove_prefix(1);
  }
}

bool NumberSet::contains(std::uint32_t n) const noexcept {
  return std::any_of(begin(), end(), [n](Range r) { return n >= r.first && n <= r.last; });
}

std::uint64_t NumberSet::count() const noexcept {
  std::uint64_t total = 0;
  for (Range r : *this) total += static_cast<std::uint64_t>(r.last - r.first) + 1;
  return total;
}

}  // namespace pimap::imap
