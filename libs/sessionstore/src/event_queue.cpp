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

namespace {

Result<AppendResult> parse_append(const redis::Reply& reply) {
  if (reply.is_error()) return StoreError{StoreErrc::redis, "append: " + std::string(reply.str()), false};
  const auto& e = reply.elements();
  if (e.size() != 3) return detail::corrupt("append: unexpected reply " + reply.debug_string());
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

}  // namespace

void EventQueue::add_append(redis::Pipeline& p, const DeviceKey& device, const EventRecord& event) const {
  const std::string keys[] = {keys_.session(device), keys_.queue(device), keys_.dedupe(device),
                              keys_.attach(device)};
  const std::string max = std::to_string(config_.max_events);
  const std::string window = std::to_string(config_.dedupe_window);
  const std::string channel_prefix = keys_.wake_channel_prefix();
  const std::string wake_prefix = device.user + "\n" + device.device_id;
  const std::string_view key_views[] = {keys[0], keys[1], keys[2], keys[3]};
  const std::string_view args[] = {event.event_id, event.resync ? "1" : "0", event.mailbox, event.payload,
                                   max, window, channel_prefix, wake_prefix};
  scripts::append().add(p, key_views, args);
}

Result<AppendResult> EventQueue::append(const DeviceKey& device, const EventRecord& event) {
  const AppendItem item{&device, &event};
  auto r = append_batch(std::span(&item, 1));
  if (!r) return r.error();
  return std::move(r->front());
}

Result<std::vector<Result<AppendResult>>> EventQueue::append_batch(std::span<const AppendItem> items,
                                                                   std::size_t chunk) {
  std::vector<Result<AppendResult>> out;
  out.reserve(items.size());
  if (chunk == 0) chunk = 1;
  std::optional<redis::Pool::Lease> lease;
  std::size_t i = 0;
  while (i < items.size()) {
    redis::Pipeline p;
    std::vector<std::size_t> sent;  // index into out of each pipelined command
    for (; i < items.size() && p.size() < chunk; ++i) {
      const auto& it = items[i];
      if (auto v = validate(*it.device); !v) {
        out.emplace_back(v.error());
        continue;
      }
      if (it.event->event_id.empty()) {
        out.emplace_back(StoreError{StoreErrc::invalid_argument, "event without an id", false});
        continue;
      }
      sent.push_back(out.size());
      out.emplace_back(StoreError{StoreErrc::redis, "not sent", true});
      add_append(p, *it.device, *it.event);
    }
    if (p.empty()) continue;
    if (!lease) {
      auto l = pool_.acquire();
      if (!l) return from_redis(l.error());
      lease.emplace(std::move(*l));
    }
    // Idempotent by event id, so resending on a stale connection (or after NOSCRIPT) is safe.
    auto replies = scripts::append().run_pipeline(**lease, p, redis::Retry::if_stale);
    if (!replies) return from_redis(replies.error());
    for (std::size_t k = 0; k < sent.size(); ++k) out[sent[k]] = parse_append((*replies)[k]);
  }
  return out;
}

Result<Pending> EventQueue::read_after(const DeviceKey& device, std::uint64_t after_seq, std::size_t limit) {
  const ReadItem item{&device, after_seq};
  auto r = read_after_batch(std::span(&item, 1), limit);
  if (!r) return r.error();
  return std::move(r->front());
}

Result<std::vector<Result<Pending>>> EventQueue::read_after_batch(std::span<const ReadItem> items,
                                                                  std::size_t limit) {
  std::vector<Result<Pending>> out;
  out.reserve(items.size());
  redis::Pipeline p;
  std::vector<std::size_t> sent;  // index into out of each item's two commands
  const std::string count = std::to_string(limit == 0 ? 1 : limit);
  for (const auto& it : items) {
    if (auto v = validate(*it.device); !v) {
      out.emplace_back(v.error());
      continue;
    }
    sent.push_back(out.size());
    out.emplace_back(StoreError{StoreErrc::redis, "not sent", true});
    p.add({"HGET", keys_.session(*it.device), "seq"});
    p.add({"XRANGE", keys_.queue(*it.device), std::to_string(it.after_seq + 1) + "-0", "+", "COUNT", count});
  }
  if (p.empty()) return out;
  auto replies = pool_.pipeline(p, redis::Retry::if_stale);
  if (!replies) return from_redis(replies.error());
  for (std::size_t k = 0; k < sent.size(); ++k) {
    const auto& head = (*replies)[2 * k];
    const auto& range = (*replies)[2 * k + 1];
    auto& slot = out[sent[k]];
    if (head.is_nil()) {
      slot = StoreError{StoreErrc::no_session, "no session", false};
      continue;
    }
    if (head.is_error() || range.is_error()) {
      slot = StoreError{StoreErrc::redis, std::string(head.is_error() ? head.str() : range.str()), false};
      continue;
    }
    auto events = detail::parse_entries(range);
    if (!events) {
      slot = events.error();
      continue;
    }
    Pending pending;
    pending.last_seq = detail::to_u64(head.str());
    pending.events = std::move(*events);
    summarize_resync(pending);
    slot = std::move(pending);
  }
  return out;
}

Result<std::size_t> EventQueue::depth(const DeviceKey& device) {
  if (auto v = validate(device); !v) return v.error();
  auto r = pool_.command({"XLEN", keys_.queue(device)}, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  return static_cast<std::size_t>(r->integer());
}

}  // namespace pimap::sessionstore
