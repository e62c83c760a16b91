#include <pimap/sessionstore/connection_policy.hpp>

#include <pimap/redis/script.hpp>

#include "store_util.hpp"

namespace pimap::sessionstore {
namespace {

// Registry entry value: "edge\nstarted\nidle_since\nseen\ntoken" (idle_since 0 = busy).
constexpr std::string_view kEntryPattern = R"lua('^([^\n]*)\n(%d+)\n(%d+)\n(%d+)\n([^\n]*)$')lua";

const redis::Script& admit_script() {
  // KEYS: registry   ARGV: conn_id, edge, now, max, stale ms, ttl ms, token
  // -> array of {reason, conn_id, entry value}
  static const redis::Script s(std::string(R"lua(
local h = KEYS[1]
local now = tonumber(ARGV[3])
local stale_before = now - tonumber(ARGV[5])
local flat = redis.call('HGETALL', h)
local others, evicted = {}, {}
for i = 1, #flat, 2 do
  local id, val = flat[i], flat[i + 1]
  local edge, started, idle, seen = string.match(val, )lua") + std::string(kEntryPattern) + R"lua()
  if not edge or tonumber(seen) < stale_before then
    redis.call('HDEL', h, id)
  elseif id == ARGV[1] then
    redis.call('HDEL', h, id)
    table.insert(evicted, {'superseded', id, val})
  else
    table.insert(others, {id, val, tonumber(started), tonumber(idle)})
  end
end
local max = tonumber(ARGV[4])
while #others >= max and #others > 0 do
  -- The victim: idle before busy; among idle the longest idle; among busy the oldest.
  local best = 1
  for i = 2, #others do
    local e, b = others[i], others[best]
    local e_idle, b_idle = e[4] > 0, b[4] > 0
    if e_idle and not b_idle then
      best = i
    elseif e_idle == b_idle then
      local ek = e_idle and e[4] or e[3]
      local bk = b_idle and b[4] or b[3]
      if ek < bk then best = i end
    end
  end
  local v = table.remove(others, best)
  redis.call('HDEL', h, v[1])
  table.insert(evicted, {'limit', v[1], v[2]})
end
redis.call('HSET', h, ARGV[1], table.concat({ARGV[2], ARGV[3], ARGV[3], ARGV[3], ARGV[7]}, '\n'))
redis.call('PEXPIRE', h, ARGV[6])
return evicted
)lua");
  return s;
}

const redis::Script& mark_script() {
  // KEYS: registry   ARGV: conn_id, idle (0|1|keep), now, ttl ms   -> 1 updated, 0 unknown
  static const redis::Script s(std::string(R"lua(
local val = redis.call('HGET', KEYS[1], ARGV[1])
if not val then return 0 end
local edge, started, idle, seen, token = string.match(val, )lua") + std::string(kEntryPattern) + R"lua()
if not edge then return 0 end
if ARGV[2] == '1' then idle = ARGV[3] elseif ARGV[2] == '0' then idle = '0' end
redis.call('HSET', KEYS[1], ARGV[1], table.concat({edge, started, idle, ARGV[3], token}, '\n'))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
)lua");
  return s;
}

const redis::Script& release_script() {
  // KEYS: registry   ARGV: conn_id, token   -> 1 removed, 0 not (absent or someone else's)
  static const redis::Script s(R"lua(
local val = redis.call('HGET', KEYS[1], ARGV[1])
if not val then return 0 end
if ARGV[2] ~= '' and string.match(val, '([^\n]*)$') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
)lua");
  return s;
}

Result<ConnectionEntry> parse_entry(std::string_view conn_id, std::string_view value) {
  ConnectionEntry e;
  e.conn_id = std::string(conn_id);
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || value[i] == '\n') {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() != 5) return detail::corrupt("connection registry: malformed entry");
  e.edge_id = std::string(parts[0]);
  e.started_ms = static_cast<std::int64_t>(detail::to_u64(parts[1]));
  e.idle_since_ms = static_cast<std::int64_t>(detail::to_u64(parts[2]));
  e.seen_ms = static_cast<std::int64_t>(detail::to_u64(parts[3]));
  e.token = std::string(parts[4]);
  return e;
}

bool bad_field(std::string_view s) { return s.find('\n') != std::string_view::npos; }

}  // namespace

ConnectionPolicy::ConnectionPolicy(redis::Pool& pool, Keys keys, PolicyConfig config)
    : pool_(pool), keys_(std::move(keys)), config_(config) {
  if (config_.max_per_user == 0) config_.max_per_user = 1;
}

Result<std::vector<Eviction>> ConnectionPolicy::admit(std::string_view user, std::string_view conn_id,
                                                      std::string_view edge_id, std::string_view token,
                                                      std::int64_t now_ms) {
  if (user.empty() || conn_id.empty() || bad_field(edge_id) || bad_field(token))
    return StoreError{StoreErrc::invalid_argument, "invalid connection registration", false};
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string key = keys_.user_connections(user);
  const std::string now = std::to_string(now_ms);
  const std::string max = std::to_string(config_.max_per_user);
  const std::string stale = std::to_string(std::chrono::milliseconds(config_.stale_after).count());
  const std::string ttl = std::to_string(2 * std::chrono::milliseconds(config_.stale_after).count());
  const std::string_view keys[] = {key};
  const std::string_view args[] = {conn_id, edge_id, now, max, stale, ttl, token};
  auto r = admit_script().run(**lease, keys, args, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  std::vector<Eviction> out;
  for (const auto& ev : r->elements()) {
    if (ev.elements().size() != 3) return detail::corrupt("connection registry: unexpected reply");
    auto entry = parse_entry(ev.elements()[1].str(), ev.elements()[2].str());
    if (!entry) return entry.error();
    out.push_back(Eviction{ev.elements()[0].str() == "limit" ? Eviction::Reason::limit
                                                             : Eviction::Reason::superseded,
                           std::move(*entry)});
  }
  return out;
}

Result<void> ConnectionPolicy::mark(std::string_view user, std::string_view conn_id, bool idle,
                                    std::int64_t now_ms) {
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string key = keys_.user_connections(user);
  const std::string now = std::to_string(now_ms);
  const std::string ttl = std::to_string(2 * std::chrono::milliseconds(config_.stale_after).count());
  const std::string_view keys[] = {key};
  const std::string_view args[] = {conn_id, idle ? "1" : "0", now, ttl};
  auto r = mark_script().run(**lease, keys, args, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  return {};
}

Result<void> ConnectionPolicy::refresh(std::string_view user, std::string_view conn_id, std::int64_t now_ms) {
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string key = keys_.user_connections(user);
  const std::string now = std::to_string(now_ms);
  const std::string ttl = std::to_string(2 * std::chrono::milliseconds(config_.stale_after).count());
  const std::string_view keys[] = {key};
  const std::string_view args[] = {conn_id, "keep", now, ttl};
  auto r = mark_script().run(**lease, keys, args, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  return {};
}

Result<void> ConnectionPolicy::release(std::string_view user, std::string_view conn_id, std::string_view token) {
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string key = keys_.user_connections(user);
  const std::string_view keys[] = {key};
  const std::string_view args[] = {conn_id, token};
  auto r = release_script().run(**lease, keys, args, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  return {};
}

Result<std::vector<ConnectionEntry>> ConnectionPolicy::list(std::string_view user) {
  auto r = pool_.command({"HGETALL", keys_.user_connections(user)}, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  std::vector<ConnectionEntry> out;
  const auto& e = r->elements();
  for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
    auto entry = parse_entry(e[i].str(), e[i + 1].str());
    if (!entry) return entry.error();
    out.push_back(std::move(*entry));
  }
  return out;
}

}  // namespace pimap::sessionstore
