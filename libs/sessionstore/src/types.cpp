#include <pimap/sessionstore/types.hpp>

#include "store_util.hpp"

#include <charconv>

namespace pimap::sessionstore {

StoreError from_redis(const redis::Error& e) { return StoreError{StoreErrc::redis, e.message, e.transient()}; }

Result<void> validate(const DeviceKey& device) {
  auto bad = [](std::string_view s) { return s.empty() || s.find_first_of(std::string_view("\n\r\0", 3)) != s.npos; };
  if (bad(device.user)) return StoreError{StoreErrc::invalid_argument, "invalid user name", false};
  if (bad(device.device_id) || device.device_id.find('/') != std::string::npos)
    return StoreError{StoreErrc::invalid_argument, "invalid device id", false};
  return {};
}

namespace detail {

std::map<std::string, std::string> to_map(const redis::Reply& flat) {
  std::map<std::string, std::string> out;
  const auto& e = flat.elements();
  for (std::size_t i = 0; i + 1 < e.size(); i += 2) out.emplace(e[i].str(), e[i + 1].str());
  return out;
}

std::uint64_t to_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() ? v : 0;
}

Result<std::vector<QueuedEvent>> parse_entries(const redis::Reply& xrange) {
  std::vector<QueuedEvent> out;
  if (xrange.is_nil()) return out;
  if (!xrange.is_array()) return corrupt("queue: unexpected XRANGE reply " + xrange.debug_string());
  out.reserve(xrange.elements().size());
  for (const auto& entry : xrange.elements()) {
    if (!entry.is_array() || entry.elements().size() != 2) return corrupt("queue: malformed entry");
    QueuedEvent ev;
    const auto id = entry.elements()[0].str();
    ev.seq = to_u64(id.substr(0, id.find('-')));
    const auto& fields = entry.elements()[1].elements();
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      const auto f = fields[i].str();
      const auto v = fields[i + 1].str();
      if (f == "i") ev.event_id = v;
      else if (f == "e") ev.payload = v;
      else if (f == "r") ev.resync = v == "1";
      else if (f == "m") ev.mailbox = v;
      else if (f == "o") ev.overflow = v == "1";
    }
    if (ev.seq == 0) return corrupt("queue: entry without a sequence number");
    out.push_back(std::move(ev));
  }
  return out;
}

}  // namespace detail
}  // namespace pimap::sessionstore
