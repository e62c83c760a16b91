// libFuzzer target for modified UTF-7 (mailbox names from the store's hooks and IMAP responses).
// Oracles besides ASan/UBSan: whatever decodes re-encodes and decodes to the same UTF-8, and
// whatever valid UTF-8 encodes decodes back to itself.
//
//   build/fuzz/fuzz/mutf7_fuzz -max_total_time=600 fuzz/seeds/mutf7

#include <pimap/imap/mutf7.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto utf8 = pimap::imap::mutf7_to_utf8(in)) {
    auto again = pimap::imap::utf8_to_mutf7(*utf8);
    if (!again || pimap::imap::mutf7_to_utf8(*again) != *utf8) std::abort();
  }
  if (auto enc = pimap::imap::utf8_to_mutf7(in)) {
    if (pimap::imap::mutf7_to_utf8(*enc) != in) std::abort();
  }
  return 0;
}
