#include <pimap/sessionstore/device_index.hpp>

#include <pimap/redis/script.hpp>
#include <pimap/sessionstore/session_id.hpp>

#include "store_util.hpp"

namespace pimap::sessionstore {
namespace {

const redis::Script& remove_script() {
  // KEYS: index   ARGV: device id, token   -> 1 removed, 0 token changed (or gone)
  static const redis::Script s(R"lua(
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
)lua");
  return s;
}

}  // namespace

DeviceIndex::DeviceIndex(redis::Pool& pool, Keys keys) : pool_(pool), keys_(std::move(keys)) {}

Result<void> DeviceIndex::add(const DeviceKey& device) {
  if (auto v = validate(device); !v) return v.error();
  // Unique per registration (a session id's 128 random bits), so an old token never matches again.
  redis::Pipeline p;
  p.add({"HSET", keys_.user_devices(device.user), device.device_id, generate_session_id()})
      .add({"SADD", keys_.watched_users(), device.user});
  auto r = pool_.pipeline(p, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  for (const auto& reply : *r)
    if (reply.is_error()) return StoreError{StoreErrc::redis, "device index: " + reply.debug_string(), false};
  return {};
}

Result<std::vector<IndexedDevice>> DeviceIndex::devices(std::string_view user) {
  auto r = pool_.command({"HGETALL", keys_.user_devices(user)}, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  std::vector<IndexedDevice> out;
  for (auto& [id, token] : detail::to_map(*r)) out.push_back({id, token});
  return out;
}

Result<bool> DeviceIndex::remove_if_unchanged(const DeviceKey& device, std::string_view token) {
  if (auto v = validate(device); !v) return v.error();
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string key = keys_.user_devices(device.user);
  const std::string_view kv[] = {key};
  const std::string_view args[] = {device.device_id, token};
  auto r = remove_script().run(**lease, kv, args, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  if (r->integer() != 1) return false;
  auto left = pool_.command({"HLEN", key}, redis::Retry::if_stale);
  if (left && !left->is_error() && left->integer() == 0) {
    auto gone = pool_.command({"SREM", keys_.watched_users(), device.user}, redis::Retry::if_stale);
    if (!gone) return from_redis(gone.error());
  }
  return true;
}

Result<bool> DeviceIndex::prune_if_idle(const DeviceKey& device) {
  if (auto v = validate(device); !v) return v.error();
  auto token = pool_.command({"HGET", keys_.user_devices(device.user), device.device_id}, redis::Retry::if_stale);
  if (!token) return from_redis(token.error());
  if (token->is_nil()) return false;
  const std::string t(token->str());
  redis::Pipeline p;
  p.add({"EXISTS", keys_.session(device)}).add({"HGET", keys_.prefs(device), "PIMAP_OUTBAND_CHANNEL"});
  auto state = pool_.pipeline(p, redis::Retry::if_stale);
  if (!state) return from_redis(state.error());
  if ((*state)[0].is_error() || (*state)[1].is_error())
    return StoreError{StoreErrc::redis, "device index: " + (*state)[0].debug_string(), false};
  const bool has_session = (*state)[0].integer() == 1;
  const bool has_channel = !(*state)[1].is_nil() && (*state)[1].str() != "NONE";
  if (has_session || has_channel) return false;
  return remove_if_unchanged(device, t);
}

}  // namespace pimap::sessionstore
