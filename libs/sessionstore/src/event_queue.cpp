#include <pimap/sessionstore/event_queue.hpp>

#include "scripts.hpp"
#include "store_util.hpp"

#include <algorithm>
#include <unordered_map>

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

// One script run's reply: {instance or nil, then (status, seq) per event}.
Result<std::vector<AppendResult>> parse_append(const redis::Reply& reply, std::size_t events) {
  if (reply.is_error()) return StoreError{StoreErrc::redis, "append: " + std::string(reply.str()), false};
  const auto& e = reply.elements();
  if (e.size() != 1 + 2 * events) return detail::corrupt("append: unexpected reply " + reply.debug_string());
  std::optional<std::string> instance;
  if (e[0].type() == redis::Reply::Type::string) instance = std::string(e[0].str());
  std::vector<AppendResult> out(events);
  for (std::size_t k = 0; k < events; ++k) {
    auto& r = out[k];
    switch (e[1 + 2 * k].integer()) {
      case 0: r.status = AppendStatus::no_session; break;
      case 1: r.status = AppendStatus::queued; break;
      case 2: r.status = AppendStatus::duplicate; break;
      case 3: r.status = AppendStatus::overflow; break;
      case 4: r.status = AppendStatus::stale; break;
      default: return detail::corrupt("append: unknown status");
    }
    r.seq = static_cast<std::uint64_t>(e[2 + 2 * k].integer());
    if (r.status == AppendStatus::queued || r.status == AppendStatus::overflow) r.instance = instance;
  }
  return out;
}

}  // namespace

void EventQueue::add_append(redis::Pipeline& p, const DeviceKey& device,
                            std::span<const EventRecord* const> events) const {
  const std::string keys[] = {keys_.session(device), keys_.queue(device), keys_.dedupe(device),
                              keys_.attach(device)};
  const std::string max = std::to_string(config_.max_events);
  const std::string window = std::to_string(config_.dedupe_window);
  const std::string channel_prefix = keys_.wake_channel_prefix();
  const std::string wake_prefix = device.user + "\n" + device.device_id;
  const std::string_view key_views[] = {keys[0], keys[1], keys[2], keys[3]};
  std::vector<std::string_view> args{max, window, channel_prefix, wake_prefix};
  args.reserve(4 + 5 * events.size());
  for (const EventRecord* e : events) {
    args.push_back(e->event_id);
    args.push_back(e->resync ? "1" : "0");
    args.push_back(e->mailbox);
    args.push_back(e->payload);
    args.push_back(e->stale_if_seen);
  }
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
  // Items grouped per device, each group in the order given: one script run appends a group, and
  // since queues are independent, running the groups one after another keeps every queue's order.
  struct Group {
    const DeviceKey* device = nullptr;
    std::vector<std::size_t> items;  // indexes into `items` (and `out`)
  };
  std::vector<Group> groups;
  std::unordered_map<std::string, std::size_t> group_of;  // "user\ndevice" -> index into groups
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    out.emplace_back(StoreError{StoreErrc::redis, "not sent", true});
    if (auto v = validate(*it.device); !v) {
      out.back() = v.error();
      continue;
    }
    if (it.event->event_id.empty()) {
      out.back() = StoreError{StoreErrc::invalid_argument, "event without an id", false};
      continue;
    }
    auto [g, fresh] = group_of.try_emplace(it.device->user + "\n" + it.device->device_id, groups.size());
    if (fresh) groups.push_back({it.device, {}});
    groups[g->second].items.push_back(i);
  }
  // A script run carries at most `per_run` events, a pipeline at most `chunk` of them.
  constexpr std::size_t per_run = 512;
  std::optional<redis::Pool::Lease> lease;
  std::size_t g = 0, offset = 0;  // next group and the next of its items
  while (g < groups.size()) {
    redis::Pipeline p;
    std::vector<std::span<const std::size_t>> sent;  // the items of each pipelined run
    std::size_t events = 0;
    std::vector<const EventRecord*> records;
    while (g < groups.size() && events < chunk) {
      const auto& group = groups[g];
      const std::size_t n = std::min({per_run, group.items.size() - offset, chunk - events});
      std::span<const std::size_t> run(group.items.data() + offset, n);
      records.clear();
      for (std::size_t i : run) records.push_back(items[i].event);
      add_append(p, *group.device, records);
      sent.push_back(run);
      events += n;
      offset += n;
      if (offset == group.items.size()) {
        ++g;
        offset = 0;
      }
    }
    if (!lease) {
      auto l = pool_.acquire();
      if (!l) return from_redis(l.error());
      lease.emplace(std::move(*l));
    }
    // Idempotent by event id, so resending on a stale connection (or after NOSCRIPT) is safe.
    auto replies = scripts::append().run_pipeline(**lease, p, redis::Retry::if_stale);
    if (!replies) return from_redis(replies.error());
    for (std::size_t k = 0; k < sent.size(); ++k) {
      auto parsed = parse_append((*replies)[k], sent[k].size());
      for (std::size_t j = 0; j < sent[k].size(); ++j) {
        if (parsed)
          out[sent[k][j]] = std::move((*parsed)[j]);
        else
          out[sent[k][j]] = parsed.error();
      }
    }
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
                                                                  std::size_t limit, bool for_push) {
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
    if (for_push) {
      const std::string session = keys_.session(*it.device);
      const std::string_view key[] = {session};
      scripts::mark_pushed().add(p, key, {});
    } else {
      p.add({"HGET", keys_.session(*it.device), "seq"});
    }
    p.add({"XRANGE", keys_.queue(*it.device), std::to_string(it.after_seq + 1) + "-0", "+", "COUNT", count});
  }
  if (p.empty()) return out;
  std::optional<redis::Pool::Lease> lease;
  if (for_push) {
    auto l = pool_.acquire();
    if (!l) return from_redis(l.error());
    lease.emplace(std::move(*l));
  }
  auto replies = for_push ? scripts::mark_pushed().run_pipeline(**lease, p, redis::Retry::if_stale)  // idempotent
                          : pool_.pipeline(p, redis::Retry::if_stale);
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

Result<std::vector<std::uint64_t>> EventQueue::last_seqs(std::span<const DeviceKey> devices) {
  std::vector<std::uint64_t> out(devices.size(), 0);
  redis::Pipeline p;
  for (const auto& d : devices) {
    if (auto v = validate(d); !v) return v.error();
    p.add({"HGET", keys_.session(d), "seq"});
  }
  if (p.empty()) return out;
  auto r = pool_.pipeline(p, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const auto& reply = (*r)[i];
    if (reply.is_error()) return StoreError{StoreErrc::redis, std::string(reply.str()), false};
    if (!reply.is_nil()) out[i] = detail::to_u64(reply.str());
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
