#include <pimap/sessionstore/attach_registry.hpp>

#include <pimap/redis/script.hpp>

#include "store_util.hpp"

namespace pimap::sessionstore {
namespace {

const redis::Script& detach_script() {
  // KEYS: attach   ARGV: instance   -> 1 removed, 0 not held by this instance
  static const redis::Script s(R"lua(
local v = redis.call('GET', KEYS[1])
if v and string.match(v, '^[^\n]*') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua");
  return s;
}

bool bad_field(std::string_view s) { return s.empty() || s.find('\n') != std::string_view::npos; }

}  // namespace

std::optional<WakeUp> parse_wake_up(std::string_view payload) {
  if (payload.empty() || payload.front() == '\n') return std::nullopt;
  const auto a = payload.find('\n');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = payload.find('\n', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  WakeUp w;
  w.device.user = std::string(payload.substr(0, a));
  w.device.device_id = std::string(payload.substr(a + 1, b - a - 1));
  w.seq = detail::to_u64(payload.substr(b + 1));
  if (!validate(w.device)) return std::nullopt;
  return w;
}

std::string format_wake_up(const DeviceKey& device, std::uint64_t seq) {
  return device.user + "\n" + device.device_id + "\n" + std::to_string(seq);
}

namespace {
constexpr std::string_view kEvictPrefix = "\nevict\n";
}  // namespace

std::optional<EvictNotice> parse_evict_notice(std::string_view payload) {
  if (!payload.starts_with(kEvictPrefix)) return std::nullopt;
  payload.remove_prefix(kEvictPrefix.size());
  const auto a = payload.find('\n');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = payload.find('\n', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  EvictNotice n;
  n.device.user = std::string(payload.substr(0, a));
  n.device.device_id = std::string(payload.substr(a + 1, b - a - 1));
  n.edge_id = std::string(payload.substr(b + 1));
  if (!validate(n.device)) return std::nullopt;
  return n;
}

std::string format_evict_notice(const DeviceKey& device, std::string_view edge_id) {
  return std::string(kEvictPrefix) + device.user + "\n" + device.device_id + "\n" + std::string(edge_id);
}

AttachRegistry::AttachRegistry(redis::Pool& pool, Keys keys, std::chrono::milliseconds ttl)
    : pool_(pool), keys_(std::move(keys)), ttl_(ttl) {}

Result<void> AttachRegistry::attach(const DeviceKey& device, const Holder& holder) {
  return refresh({{device, holder}});
}

Result<void> AttachRegistry::refresh(const std::vector<std::pair<DeviceKey, Holder>>& held) {
  if (held.empty()) return {};
  const std::string ttl = std::to_string(ttl_.count());
  redis::Pipeline p;
  for (const auto& [device, holder] : held) {
    if (auto v = validate(device); !v) return v.error();
    if (bad_field(holder.instance) || holder.edge_id.find('\n') != std::string::npos)
      return StoreError{StoreErrc::invalid_argument, "invalid holder", false};
    p.add({"SET", keys_.attach(device), holder.instance + "\n" + holder.edge_id, "PX", ttl});
  }
  auto r = pool_.pipeline(p, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  for (const auto& reply : *r)
    if (reply.is_error()) return StoreError{StoreErrc::redis, std::string(reply.str()), false};
  return {};
}

Result<void> AttachRegistry::detach(const DeviceKey& device, std::string_view instance) {
  if (auto v = validate(device); !v) return v.error();
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string key = keys_.attach(device);
  const std::string_view keys[] = {key};
  const std::string_view args[] = {instance};
  auto r = detach_script().run(**lease, keys, args, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  return {};
}

Result<std::optional<Holder>> AttachRegistry::holder(const DeviceKey& device) {
  if (auto v = validate(device); !v) return v.error();
  auto r = pool_.command({"GET", keys_.attach(device)}, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  if (r->is_nil()) return std::optional<Holder>{};
  const auto v = r->str();
  const auto nl = v.find('\n');
  if (nl == std::string_view::npos) return detail::corrupt("attach registry: malformed value");
  return std::optional<Holder>(Holder{std::string(v.substr(0, nl)), std::string(v.substr(nl + 1))});
}

Result<bool> AttachRegistry::wake(const DeviceKey& device, std::uint64_t seq) {
  auto h = holder(device);
  if (!h) return h.error();
  if (!h->has_value()) return false;
  auto r = pool_.command({"PUBLISH", keys_.wake_channel((*h)->instance), format_wake_up(device, seq)});
  if (!r) return from_redis(r.error());
  return true;
}

Result<bool> AttachRegistry::evict(const DeviceKey& device, std::string_view edge_id) {
  auto h = holder(device);
  if (!h) return h.error();
  if (!h->has_value()) return false;
  auto r = pool_.command({"PUBLISH", keys_.wake_channel((*h)->instance), format_evict_notice(device, edge_id)});
  if (!r) return from_redis(r.error());
  return true;
}

}  // namespace pimap::sessionstore
