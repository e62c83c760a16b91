#include <pimap/sessionstore/wakeup_gate.hpp>

#include <pimap/redis/script.hpp>

#include "store_util.hpp"

namespace pimap::sessionstore {
namespace {

const redis::Script& acquire_script() {
  // KEYS: gate, hourly counter   ARGV: min interval ms, hourly cap   -> 1 send, 0 coalesced, -1 capped
  static const redis::Script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('PEXPIRE', KEYS[2], 3600000) end
if n > tonumber(ARGV[2]) then return -1 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 1
)lua");
  return s;
}

}  // namespace

WakeupGate::WakeupGate(redis::Pool& pool, Keys keys, WakeupConfig config)
    : pool_(pool), keys_(std::move(keys)), config_(config) {}

Result<WakeDecision> WakeupGate::try_acquire(const DeviceKey& device) {
  if (auto v = validate(device); !v) return v.error();
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string keys[] = {keys_.wake_gate(device), keys_.wake_hour(device)};
  const std::string_view kv[] = {keys[0], keys[1]};
  const std::string interval = std::to_string(config_.min_interval.count());
  const std::string cap = std::to_string(config_.hourly_cap);
  const std::string_view args[] = {interval, cap};
  // Not retried: a resend could count one wake-up twice against the hourly cap.
  auto r = acquire_script().run(**lease, kv, args);
  if (!r) return from_redis(r.error());
  switch (r->integer()) {
    case 1: return WakeDecision::send;
    case 0: return WakeDecision::coalesced;
    default: return WakeDecision::capped;
  }
}

Result<void> WakeupGate::reset(const DeviceKey& device) {
  if (auto v = validate(device); !v) return v.error();
  auto r = pool_.command({"DEL", keys_.wake_gate(device)}, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  return {};
}

}  // namespace pimap::sessionstore
