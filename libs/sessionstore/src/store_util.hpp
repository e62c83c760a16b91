#pragma once
// Internal helpers shared by the session store's parts.

#include <pimap/redis/reply.hpp>
#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/types.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace pimap::sessionstore::detail {

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline StoreError corrupt(std::string what) { return StoreError{StoreErrc::corrupt, std::move(what), false}; }

// HGETALL-shaped reply (flat field, value array) -> map.
std::map<std::string, std::string> to_map(const redis::Reply& flat);

std::uint64_t to_u64(std::string_view s);  // 0 when not a number

// XRANGE reply -> queue entries. Fields: i event id, e payload, r resync flag, m mailbox, o overflow.
Result<std::vector<QueuedEvent>> parse_entries(const redis::Reply& xrange);

}  // namespace pimap::sessionstore::detail
