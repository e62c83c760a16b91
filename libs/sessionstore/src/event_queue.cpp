#include <pimap/sessionstore/event_queue.hpp>

#include "scripts.hpp"
#include "store_util.hpp"

namespace pimap::sessionstore {

void summarize_resync(Pending& pending) {
  pending.resync = false;
  pending.resync_folder.clear();
  bool first = true;
  for (const auto& ev : pending.events) {
    if (!ev.resync) continue;
    if (first) {
      pending.resync = true;
      pending.resync_folder = ev.mailbox;
      first = false;
    } else if (ev.mailbox != pending.resync_folder) {
      pending.resync_folder.clear();  // different scopes: every folder
    }
  }
}

EventQueue::EventQueue(redis::Pool& pool, Keys keys, QueueConfig config)
    : pool_(pool), keys_(std::move(keys)), config_(config) {
  if (config_.max_events == 0) config_.max_events = 1;
  if (config_.dedupe_window == 0) config_.dedupe_window = 2 * config_.max_events;
}

Result<AppendResult> EventQueue::append(const DeviceKey& device, const EventRecord& event) {
  if (auto v = validate(device); !v) return v.error();
  if (event.event_id.empty()) return StoreError{StoreErrc::invalid_argument, "event without an id", false};
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string keys[] = {keys_.session(device), keys_.queue(device), keys_.dedupe(device),
                              keys_.attach(device)};
  const std::string max = std::to_string(config_.max_events);
  const std::string window = std::to_string(config_.dedupe_window);
  const std::string channel_prefix = keys_.wake_channel_prefix();
  const std::string wake_prefix = device.user + "\n" + device.device_id;
  const std::string_view key_views[] = {keys[0], keys[1], keys[2], keys[3]};
  const std::string_view args[] = {event.event_id, event.resync ? "1" : "0", event.mailbox, event.payload,
                                   max, window, channel_prefix, wake_prefix};
  // Idempotent by event id, so resending on a stale connection is safe.
  auto reply = scripts::append().run(**lease, key_views, args, redis::Retry::if_stale);
  if (!reply) return from_redis(reply.error());
  const auto& e = reply->elements();
  if (e.size() != 3) return detail::corrupt("append: unexpected reply " + reply->debug_string());
  AppendResult result;
  switch (e[0].integer()) {
    case 0: result.status = AppendStatus::no_session; break;
    case 1: result.status = AppendStatus::queued; break;
    case 2: result.status = AppendStatus::duplicate; break;
    case 3: result.status = AppendStatus::overflow; break;
    default: return detail::corrupt("append: unknown status");
  }
  result.seq = static_cast<std::uint64_t>(e[1].integer());
  if (e[2].type() == redis::Reply::Type::string) result.instance = std::string(e[2].str());
  return result;
}

Result<Pending> EventQueue::read_after(const DeviceKey& device, std::uint64_t after_seq, std::size_t limit) {
  if (auto v = validate(device); !v) return v.error();
  redis::Pipeline p;
  p.add({"HGET", keys_.session(device), "seq"});
  p.add({"XRANGE", keys_.queue(device), std::to_string(after_seq + 1) + "-0", "+", "COUNT",
         std::to_string(limit == 0 ? 1 : limit)});
  auto replies = pool_.pipeline(p, redis::Retry::if_stale);
  if (!replies) return from_redis(replies.error());
  const auto& r = *replies;
  if (r[0].is_nil()) return StoreError{StoreErrc::no_session, "no session", false};
  if (r[1].is_error()) return StoreError{StoreErrc::redis, std::string(r[1].str()), false};
  auto events = detail::parse_entries(r[1]);
  if (!events) return events.error();
  Pending pending;
  pending.last_seq = detail::to_u64(r[0].str());
  pending.events = std::move(*events);
  summarize_resync(pending);
  return pending;
}

Result<std::size_t> EventQueue::depth(const DeviceKey& device) {
  if (auto v = validate(device); !v) return v.error();
  auto r = pool_.command({"XLEN", keys_.queue(device)}, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  return static_cast<std::size_t>(r->integer());
}

}  // namespace pimap::sessionstore
