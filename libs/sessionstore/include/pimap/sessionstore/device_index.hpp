#pragma once
// Which devices a user has, so that the notifier can fan a store event out to them: every device
// with a session, and every device that keeps out-of-band preferences after its session ended (it
// still wants SMS / WAP Push wake-ups). Key `<p>:u:{<user>}:devs` (docs/redis-layout.md), a HASH
// device id -> registration token.
//
// Sessions::open and PreferenceStore::set register the device; Sessions::close and the notifier
// (for a device found with neither a session nor an out-of-band channel, e.g. an expired session)
// prune it. The index lives in the user's hash slot, the device state in the device's, so no script
// can check both atomically; instead every registration writes a fresh token and a prune deletes
// only if the token it read *before* checking the device is still there. A registration racing a
// prune either changes the token (the prune does nothing) or happens before the check (the check
// sees the new session or preference). Registrations are written before and after the state they
// announce, so the entry exists whenever the state does.
//
// The same calls keep the SET `<p>:watched` (users whose stores the store-watcher watches): add()
// puts the user in, and a removal that leaves the user's index empty takes the user out. The SET is
// in another slot than the index, so this is not atomic: a registration racing the last removal may
// be dropped from the SET until that device's next registration (Open and preference set register
// twice, before and after their write, which closes the window in practice).

#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/keys.hpp>
#include <pimap/sessionstore/types.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pimap::sessionstore {

struct IndexedDevice {
  std::string device_id;
  std::string token;  // pass back to remove_if_unchanged()
};

class DeviceIndex {
 public:
  DeviceIndex(redis::Pool& pool, Keys keys);

  Result<void> add(const DeviceKey& device);
  Result<std::vector<IndexedDevice>> devices(std::string_view user);
  // Deletes the entry only if its token is still `token`. True if it was deleted.
  Result<bool> remove_if_unchanged(const DeviceKey& device, std::string_view token);
  // Reads the token, then removes the device if it has no session and no out-of-band channel.
  // True if it was removed.
  Result<bool> prune_if_idle(const DeviceKey& device);

 private:
  redis::Pool& pool_;
  Keys keys_;
};

}  // namespace pimap::sessionstore
