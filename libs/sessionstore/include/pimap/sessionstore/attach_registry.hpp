#pragma once
// Which session-service instance streams to the edge that holds a device. The session service
// registers a device when an edge attaches it on its EdgeStream (with a TTL it keeps refreshing, so
// a crashed instance's registrations vanish by themselves); the notifier's append wakes the holder
// through the instance's pub/sub channel (Keys::wake_channel). A wake-up message is
// "<user>\n<device_id>\n<seq>"; an eviction notice (the connection policy closed the device's
// connection on `edge_id`) is "\nevict\n<user>\n<device_id>\n<edge_id>" (a user is never empty, so
// a leading newline cannot start a wake-up).

#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/keys.hpp>
#include <pimap/sessionstore/types.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pimap::sessionstore {

struct Holder {
  std::string instance;  // session-service instance id
  std::string edge_id;
};

struct WakeUp {
  DeviceKey device;
  std::uint64_t seq = 0;  // the seq just appended
};

struct EvictNotice {
  DeviceKey device;
  std::string edge_id;  // only the device's connection on this edge is to be closed
};

std::optional<WakeUp> parse_wake_up(std::string_view payload);
std::string format_wake_up(const DeviceKey& device, std::uint64_t seq);
std::optional<EvictNotice> parse_evict_notice(std::string_view payload);
std::string format_evict_notice(const DeviceKey& device, std::string_view edge_id);

class AttachRegistry {
 public:
  AttachRegistry(redis::Pool& pool, Keys keys, std::chrono::milliseconds ttl = std::chrono::seconds(90));

  Result<void> attach(const DeviceKey& device, const Holder& holder);
  // Re-registers many devices in one round trip (the periodic refresh; also restores the entries
  // after a Redis restart).
  Result<void> refresh(const std::vector<std::pair<DeviceKey, Holder>>& held);
  // Removes the registration only if `instance` still holds the device.
  Result<void> detach(const DeviceKey& device, std::string_view instance);
  Result<std::optional<Holder>> holder(const DeviceKey& device);
  // Publishes a wake-up to the holder, if any (append() already does this; for other callers).
  Result<bool> wake(const DeviceKey& device, std::uint64_t seq);
  // Sends an eviction notice to the instance holding the device, if any; false if none.
  Result<bool> evict(const DeviceKey& device, std::string_view edge_id);

  std::chrono::milliseconds ttl() const noexcept { return ttl_; }

 private:
  redis::Pool& pool_;
  Keys keys_;
  std::chrono::milliseconds ttl_;
};

}  // namespace pimap::sessionstore
