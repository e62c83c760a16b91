// libFuzzer target for the edge's saved device view (device_view.hpp), read back from the session
// service (Redis) when a device resumes on any edge: a view written by another version, or damaged in
// Redis, must be refused or read, never crash the edge.
// Input: key\0value\0key\0value... (the saved map). Oracle besides ASan/UBSan: a view that decodes
// encodes to a map that decodes to the same view.
//
//   build/fuzz/fuzz/device_view_fuzz -max_total_time=600 fuzz/seeds/device_view

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include <pimap/deviceview/device_view.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> saved;
  while (!in.empty()) {
    const auto k = in.find('\0');
    const std::string_view key = in.substr(0, k);
    in = k == std::string_view::npos ? std::string_view{} : in.substr(k + 1);
    const auto v = in.find('\0');
    saved[std::string(key)] = std::string(in.substr(0, v));
    in = v == std::string_view::npos ? std::string_view{} : in.substr(v + 1);
  }
  const auto view = pimap::deviceview::decode_view(saved);
  if (!view) return 0;
  const auto again = pimap::deviceview::decode_view(pimap::deviceview::encode_view(*view));
  if (!again || !(*again == *view)) std::abort();
  return 0;
}
