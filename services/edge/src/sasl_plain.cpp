#include "sasl_plain.hpp"

#include <array>
#include <cstdint>

namespace pimap::edge {

std::optional<std::string> base64_decode(std::string_view in) {
  static const auto table = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = static_cast<std::int8_t>(i);
    return t;
  }();
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::uint32_t v = 0;
    int pad = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=') {
        // Padding only in the last group, only at its end.
        if (i + 4 != in.size() || j < 2) return std::nullopt;
        ++pad;
        v <<= 6;
        continue;
      }
      if (pad) return std::nullopt;
      const auto d = table[static_cast<unsigned char>(c)];
      if (d < 0) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

std::optional<PlainCredentials> decode_sasl_plain(std::string_view base64) {
  auto raw = base64_decode(base64);
  if (!raw) return std::nullopt;
  const auto a = raw->find('\0');
  if (a == std::string::npos) return std::nullopt;
  const auto b = raw->find('\0', a + 1);
  if (b == std::string::npos || raw->find('\0', b + 1) != std::string::npos) return std::nullopt;
  PlainCredentials c{raw->substr(a + 1, b - a - 1), raw->substr(b + 1)};
  const std::string authz = raw->substr(0, a);
  if (c.user.empty() || (!authz.empty() && authz != c.user)) return std::nullopt;
  return c;
}

}  // namespace pimap::edge
