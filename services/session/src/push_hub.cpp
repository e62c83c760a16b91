#include "push_hub.hpp"

#include "convert.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <unordered_set>
#include <vector>

namespace pimap::session {

using sessionstore::DeviceKey;

namespace {

std::int64_t unix_us_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PushHub::PushHub(redis::Options redis, Store& store, const Options& options, WorkQueue& work,
                 SessionMetrics& metrics, kit::Logger log)
    : redis_(std::move(redis)), store_(store), options_(options), work_(work), metrics_(metrics),
      log_(std::move(log)) {}

PushHub::~PushHub() { stop(); }

void PushHub::start() {
  subscriber_ = std::make_unique<redis::Subscriber>(
      redis_, std::vector<std::string>{store_.keys.wake_channel(options_.instance_id)},
      [this](std::string_view channel, std::string_view payload) { on_message(channel, payload); },
      [this](bool up, std::string_view detail) { on_subscriber_state(up, detail); });
  refresher_ = std::thread([this] { refresh_loop(); });
}

void PushHub::stop() {
  {
    std::lock_guard lock(refresh_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  refresh_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  if (subscriber_) subscriber_->stop();
  close_streams("session instance stopping");
}

void PushHub::close_streams(std::string_view reason) {
  std::vector<std::shared_ptr<PushSink>> sinks;
  {
    std::lock_guard lock(mutex_);
    for (auto& [ptr, weak] : streams_)
      if (auto s = weak.lock()) sinks.push_back(std::move(s));
  }
  for (auto& s : sinks) s->close(reason);
}

std::size_t PushHub::attached() const {
  std::lock_guard lock(mutex_);
  return attached_.size();
}

void PushHub::stream_opened(const std::shared_ptr<PushSink>& sink) {
  std::lock_guard lock(mutex_);
  streams_[sink.get()] = sink;
  metrics_.edge_streams.Set(static_cast<double>(streams_.size()));
}

void PushHub::stream_closed(const PushSink* sink) {
  std::vector<DeviceKey> gone;
  {
    std::lock_guard lock(mutex_);
    streams_.erase(sink);
    for (auto it = attached_.begin(); it != attached_.end();) {
      if (it->second.sink.get() == sink) {
        gone.push_back(it->first);
        it = attached_.erase(it);
      } else {
        ++it;
      }
    }
    metrics_.edge_streams.Set(static_cast<double>(streams_.size()));
    metrics_.attached_devices.Set(static_cast<double>(attached_.size()));
  }
  // The devices' connections may well live on (the edge reconnects its stream and re-attaches);
  // until then nobody streams to them, so the notifier should not think anybody does.
  for (const auto& d : gone) {
    if (auto r = store_.registry.detach(d, options_.instance_id); !r) metrics_.redis_errors.Increment();
  }
}

void PushHub::attach(const std::shared_ptr<PushSink>& sink, const v1::EdgeMessage::Attach& msg) {
  const DeviceKey device{msg.device().user(), msg.device().device_id()};
  auto session = store_.sessions.lookup(device);
  if (!session) {
    metrics_.redis_errors.Increment();
    log_.warn("attach failed", {{"error", session.error().message}});
    // The edge re-attaches when its stream comes back; an attach we could not record must not look
    // like one that worked.
    sink->close("redis unavailable");
    return;
  }
  if (!session->has_value() || (!msg.session_id().empty() && (*session)->id != msg.session_id())) {
    // The session ended (LOGOUT elsewhere, expiry): this connection no longer has one.
    log_.info("attach of an ended session", {{"user", device.user}, {"device", device.device_id},
                                             {"edge", sink->edge_id()}, {"found", session->has_value()}});
    v1::SessionPush push;
    *push.mutable_device() = msg.device();
    push.set_session_id(msg.session_id());
    push.set_evicted(true);
    sink->send(std::move(push));
    return;
  }
  if (auto r = store_.registry.attach(device, {options_.instance_id, sink->edge_id()}); !r) {
    metrics_.redis_errors.Increment();
    sink->close("redis unavailable");
    return;
  }
  std::lock_guard lock(mutex_);
  auto& a = attached_[device];
  a.sink = sink;
  a.session_id = (*session)->id;
  a.epoch = msg.epoch();
  a.pushed_seq = msg.after_seq();
  a.generation = next_generation_++;
  a.attached_unix_us = unix_us_now();
  a.retry = false;
  metrics_.attached_devices.Set(static_cast<double>(attached_.size()));
  schedule_locked(device, a);  // events may already be waiting after after_seq
}

void PushHub::detach(const PushSink* sink, const v1::EdgeMessage::Detach& msg) {
  const DeviceKey device{msg.device().user(), msg.device().device_id()};
  {
    std::lock_guard lock(mutex_);
    auto it = attached_.find(device);
    if (it == attached_.end() || it->second.sink.get() != sink) return;
    // A detach for an older connection of the device (epoch below the attached one) is late news.
    if (msg.epoch() != 0 && it->second.epoch != 0 && msg.epoch() < it->second.epoch) return;
    attached_.erase(it);
    metrics_.attached_devices.Set(static_cast<double>(attached_.size()));
  }
  if (auto r = store_.registry.detach(device, options_.instance_id); !r) metrics_.redis_errors.Increment();
}

void PushHub::schedule_locked(const DeviceKey& device, Attachment& a) {
  if (a.scheduled) {
    a.dirty = true;
    return;
  }
  a.scheduled = true;
  a.dirty = false;
  ready_.push_back(device);
  if (!drain_posted_) {
    drain_posted_ = true;
    work_.post([this] { drain(); });
  }
}

void PushHub::drain() {
  std::vector<DeviceKey> devices;
  {
    std::lock_guard lock(mutex_);
    const std::size_t n = std::min(ready_.size(), kDrainMax);
    devices.assign(std::make_move_iterator(ready_.begin()), std::make_move_iterator(ready_.begin() + n));
    ready_.erase(ready_.begin(), ready_.begin() + n);
    // More than one drain's worth: the next one runs beside this one on another worker.
    if (ready_.empty()) drain_posted_ = false;
    else work_.post([this] { drain(); });
  }
  if (!devices.empty()) pump_many(devices);
}

void PushHub::pump_many(const std::vector<DeviceKey>& devices) {
  struct Snapshot {
    const DeviceKey* device;
    std::shared_ptr<PushSink> sink;
    std::string session_id;
    std::uint64_t after = 0;
    std::uint64_t generation = 0;
    std::int64_t attached_us = 0;
  };
  std::vector<Snapshot> snaps;
  snaps.reserve(devices.size());
  {
    std::lock_guard lock(mutex_);
    std::unordered_set<DeviceKey> seen;  // a device attached again while queued can be listed twice
    for (const auto& device : devices) {
      auto it = attached_.find(device);
      if (it == attached_.end() || !seen.insert(device).second) continue;
      it->second.dirty = false;
      snaps.push_back({&device, it->second.sink, it->second.session_id, it->second.pushed_seq,
                       it->second.generation, it->second.attached_unix_us});
    }
  }
  if (snaps.empty()) return;
  std::vector<sessionstore::ReadItem> items;
  items.reserve(snaps.size());
  for (const auto& sn : snaps) items.push_back({sn.device, sn.after});
  auto batch = store_.queue.read_after_batch(items, options_.push_batch, /*for_push=*/true);
  for (std::size_t i = 0; i < snaps.size(); ++i) {
    const DeviceKey& device = *snaps[i].device;
    const auto& sink = snaps[i].sink;
    const auto& session_id = snaps[i].session_id;
    const std::uint64_t after = snaps[i].after;
    const std::uint64_t generation = snaps[i].generation;
    const std::int64_t attached_us = snaps[i].attached_us;
    sessionstore::Result<sessionstore::Pending> pending =
        batch ? std::move((*batch)[i]) : sessionstore::Result<sessionstore::Pending>(batch.error());
    bool more = false;
    bool failed = false;
    bool gone = false;
    std::uint64_t last = after;
    if (!pending) {
      if (pending.error().code == sessionstore::StoreErrc::no_session) {
        log_.info("attached session gone", {{"user", device.user}, {"device", device.device_id},
                                            {"edge", sink->edge_id()}});
        v1::SessionPush push;  // the session is gone (LOGOUT elsewhere, expiry)
        push.mutable_device()->set_user(device.user);
        push.mutable_device()->set_device_id(device.device_id);
        push.set_session_id(session_id);
        push.set_evicted(true);
        sink->send(std::move(push));
        gone = true;
      } else {
        metrics_.redis_errors.Increment();
        failed = true;
      }
    } else if (!pending->events.empty()) {
      v1::SessionPush push;
      push.mutable_device()->set_user(device.user);
      push.mutable_device()->set_device_id(device.device_id);
      push.set_session_id(session_id);
      for (const auto& ev : pending->events) to_proto(ev, device, push.add_events());
      push.set_resync(pending->resync);
      push.set_resync_folder(pending->resync_folder);
      last = pending->events.back().seq;
      more = pending->events.size() >= options_.push_batch;
      const auto count = pending->events.size();
      const std::int64_t now_us = unix_us_now();
      std::vector<double> live_latencies;
      for (const auto& queued : push.events()) {
        const auto& ev = queued.event();
        const std::int64_t t = ev.store_time_unix_us() > 0 ? ev.store_time_unix_us() : ev.observed_unix_us();
        if (t > 0 && t >= attached_us)
          live_latencies.push_back(static_cast<double>(std::max<std::int64_t>(now_us - t, 0)) / 1e6);
      }
      if (sink->send(std::move(push))) {
        metrics_.pushes.Increment();
        metrics_.pushed_events.Increment(static_cast<double>(count));
        if (pending->resync) metrics_.resyncs.Increment();
        for (double seconds : live_latencies) metrics_.push_latency.Observe(seconds);
      }
    }
    std::lock_guard lock(mutex_);
    auto it = attached_.find(device);
    if (it == attached_.end()) continue;
    auto& a = it->second;
    a.scheduled = false;
    if (a.generation != generation) {
      schedule_locked(device, a);  // attached again meanwhile: start over from its after_seq
      continue;
    }
    if (gone) {
      attached_.erase(it);
      metrics_.attached_devices.Set(static_cast<double>(attached_.size()));
      continue;
    }
    a.retry = failed;
    if (last > a.pushed_seq) a.pushed_seq = last;
    if (more || a.dirty) schedule_locked(device, a);
  }
}

void PushHub::on_message(std::string_view, std::string_view payload) {
  metrics_.wakeups.Increment();
  if (auto wake = sessionstore::parse_wake_up(payload)) {
    std::lock_guard lock(mutex_);
    auto it = attached_.find(wake->device);
    if (it != attached_.end() && wake->seq > it->second.pushed_seq) schedule_locked(wake->device, it->second);
    return;
  }
  if (auto notice = sessionstore::parse_evict_notice(payload)) {
    evict_local(*notice);
    return;
  }
  log_.warn("unreadable message on the wake-up channel", {{"bytes", payload.size()}});
}

void PushHub::evict_local(const sessionstore::EvictNotice& notice) {
  std::shared_ptr<PushSink> sink;
  std::string session_id;
  {
    std::lock_guard lock(mutex_);
    auto it = attached_.find(notice.device);
    if (it == attached_.end() || it->second.sink->edge_id() != notice.edge_id) return;
    sink = it->second.sink;
    session_id = it->second.session_id;
    attached_.erase(it);
    metrics_.attached_devices.Set(static_cast<double>(attached_.size()));
  }
  log_.info("evicting a connection", {{"user", notice.device.user}, {"device", notice.device.device_id},
                                      {"edge", notice.edge_id}});
  v1::SessionPush push;
  push.mutable_device()->set_user(notice.device.user);
  push.mutable_device()->set_device_id(notice.device.device_id);
  push.set_session_id(session_id);
  push.set_evicted(true);
  sink->send(std::move(push));
  // The registration is left to expire or to be overwritten by the device's next attach: removing
  // it here could race with that attach on another instance.
}

void PushHub::on_subscriber_state(bool up, std::string_view detail) {
  if (!up) {
    log_.warn("wake-up channel lost", {{"detail", detail}});
    return;
  }
  log_.info("wake-up channel subscribed", {{"channel", store_.keys.wake_channel(options_.instance_id)}});
  // Wake-ups published while we were not subscribed are lost, and a restarted Redis lost our
  // registrations: re-register everything and pump every device once. Not on this thread.
  work_.post([this] { refresh_once(false); });
  std::lock_guard lock(mutex_);
  for (auto& [device, a] : attached_) schedule_locked(device, a);
}

void PushHub::refresh_once(bool touch) {
  std::vector<std::pair<DeviceKey, sessionstore::Holder>> held;
  {
    std::lock_guard lock(mutex_);
    held.reserve(attached_.size());
    for (auto& [device, a] : attached_) {
      held.emplace_back(device, sessionstore::Holder{options_.instance_id, a.sink->edge_id()});
      if (a.retry) {
        a.retry = false;
        schedule_locked(device, a);
      }
    }
  }
  constexpr std::size_t kChunk = 500;
  for (std::size_t i = 0; i < held.size(); i += kChunk) {
    std::vector<std::pair<DeviceKey, sessionstore::Holder>> chunk(
        held.begin() + static_cast<std::ptrdiff_t>(i),
        held.begin() + static_cast<std::ptrdiff_t>(std::min(held.size(), i + kChunk)));
    if (auto r = store_.registry.refresh(chunk); !r) {
      metrics_.redis_errors.Increment();
      return;  // Redis is down: the next round (or the re-subscribe) tries again
    }
    push_unwoken(chunk);
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (const auto& [device, holder] : held) {
    if (auto r = store_.policy.refresh(device.user, device.device_id, now); !r) metrics_.redis_errors.Increment();
    // A connected device is in contact: its session must not expire under it.
    if (touch) static_cast<void>(store_.sessions.touch(device));
  }
}

void PushHub::push_unwoken(const std::vector<std::pair<DeviceKey, sessionstore::Holder>>& held) {
  // Wake-ups are pub/sub hints: one published while our subscription was down, or while the device's
  // registration had lapsed (a Redis restart, a detach racing a re-attach), is gone, and nothing else
  // would push the events it announced until the device's next event. Compare instead.
  std::vector<DeviceKey> devices;
  devices.reserve(held.size());
  for (const auto& [device, holder] : held) devices.push_back(device);
  auto seqs = store_.queue.last_seqs(devices);
  if (!seqs) {
    metrics_.redis_errors.Increment();
    return;
  }
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < devices.size(); ++i) {
    auto it = attached_.find(devices[i]);
    if (it == attached_.end()) continue;
    auto& a = it->second;
    if ((*seqs)[i] <= a.pushed_seq || a.scheduled) continue;
    metrics_.missed_wakeups.Increment();
    log_.info("events queued past the last push without a wake-up; pushing them",
              {{"user", devices[i].user}, {"device", devices[i].device_id}, {"seq", (*seqs)[i]},
               {"pushed", a.pushed_seq}});
    schedule_locked(devices[i], a);
  }
}

void PushHub::refresh_loop() {
  const auto interval = std::max(options_.attach_ttl / 3, std::chrono::milliseconds(100));
  auto next_touch = std::chrono::steady_clock::now() + options_.touch_interval;
  std::unique_lock lock(refresh_mutex_);
  while (!refresh_cv_.wait_for(lock, interval, [&] { return stopping_; })) {
    lock.unlock();
    const bool touch = std::chrono::steady_clock::now() >= next_touch;
    if (touch) next_touch = std::chrono::steady_clock::now() + options_.touch_interval;
    refresh_once(touch);
    lock.lock();
  }
}

}  // namespace pimap::session
