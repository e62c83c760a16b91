#pragma once
// Vocabulary shared by the session store's parts: which device, what went wrong.

#include <pimap/redis/result.hpp>

#include <cstdint>
#include <string>

namespace pimap::sessionstore {

// A device is a store user plus the device id from the decorated login name (profile §3).
struct DeviceKey {
  std::string user;       // e.g. "user01@example.test"
  std::string device_id;  // e.g. "Pphone-1"
  friend bool operator==(const DeviceKey&, const DeviceKey&) = default;
};

enum class StoreErrc {
  redis,             // Redis unreachable, timed out, or refused the command (see message)
  no_session,        // no live session for this device (never opened, closed, or expired)
  wrong_session,     // the session id given is not the device's current session
  invalid_argument,  // a malformed device key, session id or value
  corrupt,           // Redis held data of an unexpected shape
};

struct StoreError {
  StoreErrc code;
  std::string message;
  // Worth retrying later (Redis trouble), as opposed to a caller or data error.
  bool transient = false;
};

template <class T>
using Result = redis::Result<T, StoreError>;

// Converts a Redis failure into a StoreError, keeping whether it is transient.
StoreError from_redis(const redis::Error& e);

// The empty string, newlines and NUL are refused in users and device ids: they are key and message
// separators. Device ids may not contain '/', which separates them from the user inside key names.
Result<void> validate(const DeviceKey& device);

}  // namespace pimap::sessionstore

template <>
struct std::hash<pimap::sessionstore::DeviceKey> {
  std::size_t operator()(const pimap::sessionstore::DeviceKey& d) const noexcept {
    return std::hash<std::string>{}(d.user) * 31 + std::hash<std::string>{}(d.device_id);
  }
};
