// libFuzzer target for the store-watcher's hook payload parsers (Dovecot push_notification OX and Lua
// JSON bodies arrive over HTTP from the store). Oracle besides ASan/UBSan: a rejected payload always
// says why.
//
//   build/fuzz/fuzz/hook_payload_fuzz -max_total_time=600 fuzz/seeds/hook_payload

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "hook_payload.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (auto parse : {&pimap::store_watcher::parse_ox_payload, &pimap::store_watcher::parse_lua_payload}) {
    auto r = parse(in, 1'700'000'000'000'000);
    if (!r.ok && r.error.empty()) std::abort();
  }
  return 0;
}
