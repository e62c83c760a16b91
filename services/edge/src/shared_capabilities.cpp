#include "shared_capabilities.hpp"

#include <algorithm>
#include <mutex>

namespace pimap::edge {

namespace {
constexpr std::size_t kRemembered = 8;
}  // namespace

Capabilities share_capabilities(std::vector<std::string> caps) {
  static std::mutex mutex;
  static std::vector<Capabilities> known;  // most recently used last
  std::lock_guard lock(mutex);
  auto it = std::find_if(known.begin(), known.end(), [&](const Capabilities& k) { return *k == caps; });
  if (it != known.end()) {
    std::rotate(it, it + 1, known.end());
    return known.back();
  }
  if (known.size() == kRemembered) known.erase(known.begin());
  caps.shrink_to_fit();
  known.push_back(std::make_shared<const std::vector<std::string>>(std::move(caps)));
  return known.back();
}

}  // namespace pimap::edge
