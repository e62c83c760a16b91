#pragma once
// Internal: the Lua scripts that keep multi-step updates atomic. Sequence numbers are formatted with
// %d: Lua 5.1 numbers are doubles and would print large values in exponent notation otherwise.

#include <pimap/redis/script.hpp>

namespace pimap::sessionstore::scripts {

// Appends several events to one device's queue, in order, as if each were appended alone: the
// notifier groups a Kafka batch's events per device, so a batch costs one script run per device
// instead of one per event, and the device's session-service instance gets one wake-up (with the
// last seq) instead of one per event.
// An event whose stale_if_seen id is in the dedupe set (or earlier in the run) is not queued: a NEW
// of a message whose expunge the device already took (event_queue.hpp).
// KEYS: session, queue, dedupe, attach
// ARGV: max_events, dedupe_window, wake channel prefix, wake payload prefix ("user\ndevice"),
//       then per event: event_id, resync(0|1), mailbox, payload, stale_if_seen ('' = never stale)
// -> {woken instance or false, then per event: status (0 no session, 1 queued, 2 duplicate,
//     3 overflow, 4 stale), seq}
inline const redis::Script& append() {
  static const redis::Script s(R"lua(
local s, q, x, a = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local n = (#ARGV - 4) / 5
local out = {false}
if redis.call('EXISTS', s) == 0 then
  for i = 1, n do out[2 * i] = 0; out[2 * i + 1] = 0 end
  return out
end
local max, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local first = tonumber(redis.call('HGET', s, 'seq') or '0')
local seq = first
local len = redis.call('XLEN', q)
local seen, added = {}, {}
for i = 1, n do
  local b = 5 * i - 1
  local id, stale = ARGV[b + 1], ARGV[b + 5]
  local prev = seen[id] or redis.call('ZSCORE', x, id)
  if prev then
    out[2 * i] = 2; out[2 * i + 1] = tonumber(prev)
  elseif stale ~= '' and (seen[stale] or redis.call('ZSCORE', x, stale)) then
    out[2 * i] = 4; out[2 * i + 1] = 0
  else
    seq = seq + 1
    local sid = string.format('%d-0', seq)
    if len >= max then
      redis.call('DEL', q)
      redis.call('XADD', q, sid, 'i', id, 'r', '1', 'm', '', 'o', '1')
      len = 1
      out[2 * i] = 3
    else
      redis.call('XADD', q, sid, 'i', id, 'r', ARGV[b + 2], 'm', ARGV[b + 3], 'e', ARGV[b + 4])
      len = len + 1
      out[2 * i] = 1
    end
    out[2 * i + 1] = seq
    seen[id] = seq
    added[#added + 1] = seq
    added[#added + 1] = id
  end
end
if seq == first then return out end
redis.call('HSET', s, 'seq', string.format('%d', seq))
for k = 1, #added, 2000 do redis.call('ZADD', x, unpack(added, k, math.min(k + 1999, #added))) end
if seq > window then redis.call('ZREMRANGEBYSCORE', x, '-inf', string.format('%d', seq - window)) end
local ttl = redis.call('PTTL', s)
if ttl > 0 then
  redis.call('PEXPIRE', q, ttl)
  redis.call('PEXPIRE', x, ttl)
end
local holder = redis.call('GET', a)
if holder then
  out[1] = string.match(holder, '^[^\n]*')
  redis.call('PUBLISH', ARGV[3] .. out[1], ARGV[4] .. '\n' .. string.format('%d', seq))
end
return out
)lua");
  return s;
}

// KEYS: session, view, queue, dedupe, wake gate
// ARGV: new id, now ms, ttl ms, edge, binding, max pending
// -> {resumed (0|1), session HGETALL, view HGETALL, XRANGE of pending}
inline const redis::Script& open() {
  static const redis::Script s(R"lua(
local s, v, q, x, w = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local resumed = redis.call('EXISTS', s)
if resumed == 0 then
  redis.call('DEL', v, q, x)
  redis.call('HSET', s, 'id', ARGV[1], 'st', '1', 'f', '', 'ack', '0', 'seq', '0', 'ct', ARGV[2], 'ep', '0')
end
redis.call('HINCRBY', s, 'ep', 1)
redis.call('HSET', s, 'lc', ARGV[2], 'edge', ARGV[4], 'bind', ARGV[5])
redis.call('DEL', w)
for _, k in ipairs({s, v, q, x}) do redis.call('PEXPIRE', k, ARGV[3]) end
local ack = tonumber(redis.call('HGET', s, 'ack'))
local pending = redis.call('XRANGE', q, string.format('%d-0', ack + 1), '+', 'COUNT', ARGV[6])
local session = redis.call('HGETALL', s)
-- The opening edge will tell the pending events: they count as pushed (see mark_pushed).
if #pending > 0 then redis.call('HSET', s, 'ps', string.match(pending[#pending][1], '^%d+')) end
return {resumed, session, redis.call('HGETALL', v), pending}
)lua");
  return s;
}

// Shared by ack and detach: check the id, move the acknowledgement forward, trim the queue.
#define PIMAP_SESSIONSTORE_ACK_PRELUDE                                              \
  "local s, v, q, x = KEYS[1], KEYS[2], KEYS[3], KEYS[4]\n"                         \
  "local cur = redis.call('HMGET', s, 'id', 'ack', 'seq', 'ep')\n"                  \
  "if not cur[1] then return -1 end\n"                                              \
  "if cur[1] ~= ARGV[1] then return -2 end\n"                                       \
  "local ack = tonumber(cur[2])\n"                                                  \
  "local a = math.min(tonumber(ARGV[4]), tonumber(cur[3]))\n"                       \
  "if a > ack then\n"                                                               \
  "  redis.call('HSET', s, 'ack', string.format('%d', a))\n"                        \
  "  redis.call('XTRIM', q, 'MINID', string.format('%d-0', a + 1))\n"               \
  "end\n"                                                                           \
  "redis.call('HSET', s, 'lc', ARGV[2])\n"                                          \
  "for _, k in ipairs({s, v, q, x}) do redis.call('PEXPIRE', k, ARGV[3]) end\n"

// KEYS: session, view, queue, dedupe   ARGV: id, now ms, ttl ms, acked seq
// -> 0 ok, -1 no session, -2 wrong session
inline const redis::Script& ack() {
  static const redis::Script s(PIMAP_SESSIONSTORE_ACK_PRELUDE "return 0\n");
  return s;
}

// KEYS: session, view, queue, dedupe
// ARGV: id, now ms, ttl ms, acked seq, epoch, state, folder, view version, clean (0|1),
//       view field/value pairs...
// -> 0 ok, 1 stale (only the acknowledgement applied), -1 no session, -2 wrong session
// The view is stored with the seq it reflects (`_s`, the acknowledgement it came with) and the epoch
// and version of its writer (`_ep`, `_vv`): a connection's writes may arrive out of order, and only
// the newest one of the current epoch counts.
inline const redis::Script& detach() {
  static const redis::Script s(PIMAP_SESSIONSTORE_ACK_PRELUDE R"lua(
local epoch = tonumber(ARGV[5])
if epoch ~= 0 and epoch ~= tonumber(cur[4]) then return 1 end
local version = tonumber(ARGV[8])
if version ~= 0 then
  local last = redis.call('HMGET', v, '_ep', '_vv')
  if last[1] and tonumber(last[1]) == epoch and tonumber(last[2]) >= version then return 1 end
end
redis.call('HSET', s, 'st', ARGV[6], 'f', ARGV[7])
redis.call('DEL', v)
redis.call('HSET', v, '_s', string.format('%d', a), '_ep', ARGV[5], '_vv', ARGV[8])
if ARGV[9] == '1' then redis.call('HSET', s, 'ps', string.format('%d', a)) end
if #ARGV > 9 then redis.call('HSET', v, unpack(ARGV, 10)) end
redis.call('PEXPIRE', v, ARGV[3])
return 0
)lua");
  return s;
}

// Before the session service pushes a device's events to an edge: `ps` (pushed seq) := the queue's last
// seq, so an edge that tells them and dies before acknowledging leaves a view that Open no longer hands
// out (sessions.cpp). One run per device in the same pipeline as the read; a session that is gone is
// not recreated. Over-approximates (the read may return fewer): that costs a RESYNC, never a repeat.
// KEYS: session   -> the session's seq, or nil when there is no session
inline const redis::Script& mark_pushed() {
  static const redis::Script s(R"lua(
local seq = redis.call('HGET', KEYS[1], 'seq')
if seq and tonumber(seq) > tonumber(redis.call('HGET', KEYS[1], 'ps') or '0') then
  redis.call('HSET', KEYS[1], 'ps', seq)
end
return seq
)lua");
  return s;
}

// KEYS: session, view, queue, dedupe, attach, wake gate   ARGV: id
// -> 1 closed, 0 there was no session, -2 wrong session
inline const redis::Script& close() {
  static const redis::Script s(R"lua(
local id = redis.call('HGET', KEYS[1], 'id')
if not id then return 0 end
if id ~= ARGV[1] then return -2 end
redis.call('DEL', unpack(KEYS))
return 1
)lua");
  return s;
}

// KEYS: session, view, queue, dedupe   ARGV: now ms, ttl ms   -> the session id, or nil
inline const redis::Script& touch() {
  static const redis::Script s(R"lua(
local id = redis.call('HGET', KEYS[1], 'id')
if not id then return false end
redis.call('HSET', KEYS[1], 'lc', ARGV[1])
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[2]) end
return id
)lua");
  return s;
}

}  // namespace pimap::sessionstore::scripts
