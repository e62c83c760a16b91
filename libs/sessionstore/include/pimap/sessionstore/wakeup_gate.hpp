#pragma once
// Out-of-band wake-up coalescing (profile §11): at most one outstanding SMS / WAP Push wake-up per
// device until the device reconnects (Sessions::open clears the gate) or `min_interval` passes,
// and at most `hourly_cap` per device per hour.

#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/keys.hpp>
#include <pimap/sessionstore/types.hpp>

#include <chrono>

namespace pimap::sessionstore {

enum class WakeDecision { send, coalesced, capped };

struct WakeupConfig {
  std::chrono::milliseconds min_interval{60'000};
  std::size_t hourly_cap = 20;
};

class WakeupGate {
 public:
  WakeupGate(redis::Pool& pool, Keys keys, WakeupConfig config);

  // `send` means the caller now owns the device's one outstanding wake-up and should send it.
  Result<WakeDecision> try_acquire(const DeviceKey& device);
  Result<void> reset(const DeviceKey& device);

 private:
  redis::Pool& pool_;
  Keys keys_;
  WakeupConfig config_;
};

}  // namespace pimap::sessionstore
