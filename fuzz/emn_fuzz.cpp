// libFuzzer target for the EMN decoders (libs/emn): WBXML EMN, textual EMN and the WSP push PDU that
// wraps WAP Push content. Oracles besides ASan/UBSan: whatever decode_wbxml accepts, encode_wbxml
// writes back in a form that decodes to the same notification; the same for the textual form.
//
//   build/fuzz/fuzz/emn_fuzz -max_total_time=600 fuzz/seeds/emn

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "pimap/emn/emn.hpp"
#include "pimap/emn/text.hpp"
#include "pimap/emn/wbxml.hpp"
#include "pimap/emn/wsp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto n = pimap::emn::decode_wbxml(in)) {
    auto again = pimap::emn::decode_wbxml(pimap::emn::encode_wbxml(*n));
    if (!again || !(*again == *n)) std::abort();
  }
  (void)pimap::emn::parse_text(in);
  (void)pimap::emn::parse_wsp_push(in);
  return 0;
}
