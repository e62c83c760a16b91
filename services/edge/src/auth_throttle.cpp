#include "auth_throttle.hpp"

#include <algorithm>
#include <vector>

namespace pimap::edge {

namespace {
std::string user_key(std::string_view user) { return "u:" + std::string(user); }
std::string addr_key(std::string_view address) { return "a:" + std::string(address); }
}  // namespace

unsigned AuthThrottle::count(const std::string& key, Clock::time_point now) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || now - it->second.last > options_.forget_after) return 0;
  return it->second.failures;
}

unsigned AuthThrottle::bump(const std::string& key, Clock::time_point now) {
  Entry& e = entries_[key];
  if (now - e.last > options_.forget_after) e.failures = 0;
  e.failures = std::min(e.failures + 1, 64u);
  e.last = now;
  return e.failures;
}

std::chrono::milliseconds AuthThrottle::delay_for(unsigned failures) const {
  if (failures == 0) return std::chrono::milliseconds{0};
  auto d = options_.base_delay;
  for (unsigned i = 1; i < failures && d < options_.max_delay; ++i) d *= 2;
  return std::min(d, options_.max_delay);
}

std::chrono::milliseconds AuthThrottle::failed(std::string_view user, std::string_view address,
                                               Clock::time_point now) {
  std::lock_guard lock(mu_);
  const unsigned u = bump(user_key(user), now);
  const unsigned a = bump(addr_key(address), now);
  evict_if_needed();
  return delay_for(std::max(u, a));
}

void AuthThrottle::succeeded(std::string_view user) {
  std::lock_guard lock(mu_);
  entries_.erase(user_key(user));
}

std::chrono::milliseconds AuthThrottle::current_delay(std::string_view user, std::string_view address,
                                                      Clock::time_point now) const {
  std::lock_guard lock(mu_);
  return delay_for(std::max(count(user_key(user), now), count(addr_key(address), now)) + 1);
}

std::size_t AuthThrottle::tracked() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void AuthThrottle::evict_if_needed() {
  if (entries_.size() <= options_.max_entries) return;
  // Drop the oldest quarter at once so eviction stays amortised O(1) per failure.
  std::vector<std::pair<Clock::time_point, std::string>> by_age;
  by_age.reserve(entries_.size());
  for (auto& [k, e] : entries_) by_age.emplace_back(e.last, k);
  const auto drop = by_age.size() - options_.max_entries * 3 / 4;
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(drop), by_age.end());
  for (std::size_t i = 0; i < drop; ++i) entries_.erase(by_age[i].second);
}

}  // namespace pimap::edge
