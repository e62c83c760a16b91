#include <pimap/sessionstore/session_id.hpp>

#include <sys/random.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace pimap::sessionstore {
namespace {
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::size_t kLength = 26;  // ceil(128 / 5)
}  // namespace

std::string generate_session_id() {
  std::array<std::uint8_t, 16> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Without the kernel CSPRNG there is no safe session id; this cannot happen on Linux >= 3.17.
      throw std::runtime_error("getrandom failed");
    }
    got += static_cast<std::size_t>(n);
  }
  // 128 bits, most significant first, as 26 groups of 5 bits (the last group padded with 2 zero bits).
  std::string id;
  id.reserve(kLength);
  unsigned buffer = 0;
  int bits = 0;
  for (std::uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      id.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) id.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return id;
}

bool is_valid_session_id(std::string_view id) noexcept {
  if (id.size() != kLength) return false;
  for (char c : id)
    if (kAlphabet.find(c) == std::string_view::npos) return false;
  // The last character carries 3 bits of data and 2 zero padding bits.
  return (kAlphabet.find(id.back()) & 3) == 0;
}

}  // namespace pimap::sessionstore
