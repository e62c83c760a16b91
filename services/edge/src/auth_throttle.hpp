#pragma once
// Growing delays after failed logins (profile §14), per user and per source address.
//
// A failed attempt is answered only after a delay that doubles with each recent failure of the same
// user or the same address (the larger of the two counts), up to a cap. Password guessing across many
// connections therefore slows down as a whole, while a user who mistypes once barely notices. A success
// clears the user's count (not the address's: a NAT in front of many devices keeps its history).
// Failures are forgotten after `forget_after` without new ones. Memory is bounded: when more than
// `max_entries` keys are tracked, the oldest are dropped.

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pimap::edge {

class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds base_delay{250};
    std::chrono::milliseconds max_delay{15'000};
    std::chrono::seconds forget_after{900};
    std::size_t max_entries = 100'000;
  };

  AuthThrottle() : AuthThrottle(Options{}) {}
  explicit AuthThrottle(Options options) : options_(options) {}

  // Records a failure and returns how long to wait before answering it.
  std::chrono::milliseconds failed(std::string_view user, std::string_view address,
                                   Clock::time_point now = Clock::now());
  void succeeded(std::string_view user);

  // Delay a failure would get now (without recording one).
  std::chrono::milliseconds current_delay(std::string_view user, std::string_view address,
                                          Clock::time_point now = Clock::now()) const;
  std::size_t tracked() const;

 private:
  struct Entry {
    unsigned failures = 0;
    Clock::time_point last{};
  };
  unsigned count(const std::string& key, Clock::time_point now) const;
  unsigned bump(const std::string& key, Clock::time_point now);
  std::chrono::milliseconds delay_for(unsigned failures) const;
  void evict_if_needed();

  Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace pimap::edge
