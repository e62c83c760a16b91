#include <pimap/imap/mutf7.hpp>

#include <cstdint>
#include <vector>

namespace pimap::imap {

namespace {

// RFC 3501 §5.1.3: base64 with ',' for '/', no padding.
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

bool printable(unsigned char c) { return c >= 0x20 && c <= 0x7e; }

// One code point off the front of `s`, or nullopt if it is not well-formed UTF-8.
std::optional<char32_t> next_code_point(std::string_view& s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 < 0x80) {
    len = 1, cp = b0;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (s.size() < len) return std::nullopt;
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xc0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0) return std::nullopt;
  s.remove_prefix(len);
  return cp;
}

void put_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

void put_base64(const std::vector<std::uint16_t>& units, std::string& out) {
  out += '&';
  std::uint32_t bits = 0;
  int nbits = 0;
  for (auto u : units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += kAlphabet[(bits >> nbits) & 0x3f];
    }
  }
  if (nbits > 0) out += kAlphabet[(bits << (6 - nbits)) & 0x3f];
  out += '-';
}

}  // namespace

std::optional<std::string> utf8_to_mutf7(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  std::vector<std::uint16_t> run;  // UTF-16 of the current non-printable run
  while (!utf8.empty()) {
    auto cp = next_code_point(utf8);
    if (!cp) return std::nullopt;
    if (*cp < 0x80 && printable(static_cast<unsigned char>(*cp))) {
      if (!run.empty()) {
        put_base64(run, out);
        run.clear();
      }
      out += static_cast<char>(*cp);
      if (*cp == '&') out += '-';
    } else if (*cp < 0x10000) {
      run.push_back(static_cast<std::uint16_t>(*cp));
    } else {
      const char32_t v = *cp - 0x10000;
      run.push_back(static_cast<std::uint16_t>(0xd800 | (v >> 10)));
      run.push_back(static_cast<std::uint16_t>(0xdc00 | (v & 0x3ff)));
    }
  }
  if (!run.empty()) put_base64(run, out);
  return out;
}

std::optional<std::string> mutf7_to_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (!printable(c)) return std::nullopt;
    if (c != '&') {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const auto end = in.find('-', i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    if (end == i + 1) {  // "&-"
      out += '&';
      i = end + 1;
      continue;
    }
    std::uint32_t bits = 0;
    int nbits = 0;
    std::uint16_t high = 0;  // a high surrogate waiting for its pair (0: none)
    for (std::size_t k = i + 1; k < end; ++k) {
      const int v = sextet(in[k]);
      if (v < 0) return std::nullopt;
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
      nbits += 6;
      if (nbits < 16) continue;
      nbits -= 16;
      const auto unit = static_cast<std::uint16_t>((bits >> nbits) & 0xffff);
      bits &= (1u << nbits) - 1;
      if (high != 0) {
        if (unit < 0xdc00 || unit > 0xdfff) return std::nullopt;
        put_utf8(0x10000 + ((static_cast<char32_t>(high - 0xd800) << 10) | (unit - 0xdc00)), out);
        high = 0;
      } else if (unit >= 0xd800 && unit <= 0xdbff) {
        high = unit;
      } else if ((unit >= 0xdc00 && unit <= 0xdfff) || unit == 0) {
        return std::nullopt;
      } else {
        put_utf8(unit, out);
      }
    }
    // Leftover bits are padding: fewer than 6 of them, all zero. A run ends on whole UTF-16 units.
    if (high != 0 || nbits >= 6 || bits != 0) return std::nullopt;
    i = end + 1;
  }
  return out;
}

}  // namespace pimap::imap
