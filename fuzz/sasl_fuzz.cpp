// libFuzzer target for the edge's SASL PLAIN / base64 decoding (AUTHENTICATE PLAIN from devices).
// Oracle besides ASan/UBSan: accepted credentials never contain NUL and the user is never empty.
//
//   build/fuzz/fuzz/sasl_fuzz -max_total_time=600 fuzz/seeds/sasl

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sasl_plain.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto c = pimap::edge::decode_sasl_plain(in)) {
    if (c->user.empty() || c->user.find('\0') != std::string::npos ||
        c->password.find('\0') != std::string::npos) {
      std::abort();
    }
  }
  (void)pimap::edge::base64_decode(in);
  return 0;
}
