#pragma once
// The Redis key layout (docs/redis-layout.md). Every key of one device carries the hash tag
// {user/device}, so a device's keys live in one Redis Cluster slot and Lua scripts may touch them
// together; the per-user connection registry is tagged {user}.

#include <pimap/sessionstore/types.hpp>

#include <string>
#include <string_view>

namespace pimap::sessionstore {

class Keys {
 public:
  explicit Keys(std::string prefix = "pimap") : prefix_(std::move(prefix)) {}

  std::string session(const DeviceKey& d) const { return device(d, "s"); }   // HASH
  std::string view(const DeviceKey& d) const { return device(d, "v"); }      // HASH
  std::string queue(const DeviceKey& d) const { return device(d, "q"); }     // STREAM, id = seq-0
  std::string dedupe(const DeviceKey& d) const { return device(d, "x"); }    // ZSET event_id -> seq
  std::string attach(const DeviceKey& d) const { return device(d, "a"); }    // STRING instance\nedge
  std::string prefs(const DeviceKey& d) const { return device(d, "p"); }     // HASH name -> value
  std::string wake_gate(const DeviceKey& d) const { return device(d, "w"); } // STRING, PX interval
  std::string wake_hour(const DeviceKey& d) const { return device(d, "wh"); }// STRING counter, 1 h
  std::string session_id(std::string_view id) const { return prefix_ + ":sid:" + std::string(id); }
  std::string user_connections(std::string_view user) const {
    return prefix_ + ":u:{" + std::string(user) + "}:conns";  // HASH conn_id -> entry
  }
  // Devices of a user worth notifying (a session, or out-of-band preferences): device id -> token.
  std::string user_devices(std::string_view user) const {
    return prefix_ + ":u:{" + std::string(user) + "}:devs";  // HASH device_id -> registration token
  }
  // Users with at least one indexed device: whose stores the store-watcher watches (maintained
  // with user_devices by DeviceIndex).
  std::string watched_users() const { return prefix_ + ":watched"; }  // SET user
  // Pub/sub channel of one session-service instance: wake-ups for the devices it streams to.
  std::string wake_channel(std::string_view instance) const {
    return prefix_ + ":wake:" + std::string(instance);
  }
  std::string wake_channel_prefix() const { return prefix_ + ":wake:"; }
  const std::string& prefix() const noexcept { return prefix_; }

 private:
  std::string device(const DeviceKey& d, std::string_view suffix) const {
    std::string k;
    k.reserve(prefix_.size() + d.user.size() + d.device_id.size() + 8);
    k.append(prefix_).append(":d:{").append(d.user).append("/").append(d.device_id).append("}:");
    k.append(suffix);
    return k;
  }
  std::string prefix_;
};

}  // namespace pimap::sessionstore
