#include "processor.hpp"

#include "gateways.hpp"
#include "news.hpp"
#include "wakeup_message.hpp"

#include <pimap/emn/text.hpp>
#include <pimap/emn/wbxml.hpp>
#include <pimap/sessionstore/event_record.hpp>
#include <pimap/sessionstore/session_id.hpp>

#include <cstdint>

namespace pimap::notifier {

Processor::Processor(redis::Pool& pool, const Options& options, Metrics& metrics, Submit submit, kit::Logger log,
                     Clock clock)
    : pool_(pool),
      options_(options),
      metrics_(metrics),
      submit_(std::move(submit)),
      log_(std::move(log)),
      clock_(std::move(clock)),
      keys_(options.key_prefix),
      index_(pool, keys_),
      queue_(pool, keys_, options.queue),
      gate_(pool, keys_, options.wakeup) {}

Processor::Outcome Processor::fail(const std::string& what) {
  last_error_ = what;
  metrics_.redis_error();
  return Outcome::retry;
}

bool Processor::load_devices(std::span<const v1::StoreEvent> events, UserDevices& out) {
  std::vector<std::string> users;
  for (const auto& e : events)
    if (!e.user().empty() && !e.event_id().empty() && !out.contains(e.user())) {
      out.emplace(e.user(), std::vector<IndexedState>{});
      users.push_back(e.user());
    }
  if (users.empty()) return true;
  redis::Pipeline index;
  for (const auto& u : users) index.add({"HGETALL", keys_.user_devices(u)});
  auto ir = pool_.pipeline(index, redis::Retry::if_stale);
  if (!ir) {
    fail("device index: " + ir.error().message);
    return false;
  }
  redis::Pipeline p;
  std::vector<std::pair<std::string, sessionstore::IndexedDevice>> listed;  // user, device
  for (std::size_t u = 0; u < users.size(); ++u) {
    const auto& r = (*ir)[u];
    if (r.is_error()) {
      fail("device index: " + r.debug_string());
      return false;
    }
    const auto& e = r.elements();
    for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
      const sessionstore::DeviceKey key{users[u], std::string(e[i].str())};
      p.add({"HMGET", keys_.session(key), "id", "st", "f"});
      p.add({"HMGET", keys_.prefs(key), "PIMAP_EVENT_FILTER", "PIMAP_OUTBAND_CHANNEL", "PIMAP_OUTBAND_ADDRESS",
             "PIMAP_OUTBAND_FORMAT"});
      p.add({"EXISTS", keys_.attach(key)});
      listed.push_back({users[u], {std::string(e[i].str()), std::string(e[i + 1].str())}});
    }
  }
  if (listed.empty()) return true;
  auto r = pool_.pipeline(p, redis::Retry::if_stale);
  if (!r) {
    fail("device state: " + r.error().message);
    return false;
  }
  auto field = [](const redis::Reply& arr, std::size_t i) -> std::string {
    if (!arr.is_array() || i >= arr.elements().size() || arr.elements()[i].is_nil()) return {};
    return std::string(arr.elements()[i].str());
  };
  for (std::size_t i = 0; i < listed.size(); ++i) {
    const auto& s = (*r)[3 * i];
    const auto& prefs = (*r)[3 * i + 1];
    const auto& attach = (*r)[3 * i + 2];
    if (s.is_error() || prefs.is_error() || attach.is_error()) {
      fail("device state: " + (s.is_error() ? s.debug_string() : prefs.is_error() ? prefs.debug_string()
                                                                                   : attach.debug_string()));
      return false;
    }
    IndexedState st;
    st.token = listed[i].second.token;
    st.state.device_id = listed[i].second.device_id;
    st.state.has_session = !field(s, 0).empty();
    st.state.selected = field(s, 1) == "2";
    st.state.folder = field(s, 2);
    st.state.attached = attach.integer() == 1;
    st.state.event_filter = parse_event_filter(field(prefs, 0));
    st.state.channel = parse_channel(field(prefs, 1));
    st.state.address = field(prefs, 2);
    st.state.format = parse_format(field(prefs, 3));
    out[listed[i].first].push_back(std::move(st));
  }
  return true;
}

Processor::Outcome Processor::process_batch(std::span<const v1::StoreEvent> events) {
  if (events.empty()) return Outcome::done;
  const std::string batch_id = events.front().event_id() + "\n" + events.back().event_id() + "\n" +
                               std::to_string(events.size());
  if (batch_id != current_batch_) {
    current_batch_ = batch_id;
    finished_.clear();
  }
  UserDevices devices;
  if (!load_devices(events, devices)) return Outcome::retry;

  // Decide every (event, device) pair; the in-band ones become one pipelined append batch.
  struct Pair {
    const v1::StoreEvent* event;
    const IndexedState* device;
    sessionstore::DeviceKey key;
    Decision decision;
    std::size_t record = 0;   // index into records
    std::size_t append = SIZE_MAX;  // index into items, if appended
  };
  std::vector<Pair> pairs;
  std::vector<sessionstore::EventRecord> records;
  records.reserve(events.size());
  for (const auto& e : events) {
    if (e.user().empty() || e.event_id().empty()) {
      log_.warn("store event without user or id ignored", {{"event_id", e.event_id()}});
      metrics_.filtered(FilterReason::unparseable);
      continue;
    }
    auto it = devices.find(e.user());
    if (it == devices.end() || it->second.empty()) continue;
    records.push_back(sessionstore::to_record(e));
    for (const auto& d : it->second) {
      if (finished_.contains(e.event_id() + "\n" + d.state.device_id)) continue;
      Pair pr{&e, &d, {e.user(), d.state.device_id}, {}, records.size() - 1};
      if (d.state.has_session || d.state.channel != OutbandChannel::none) pr.decision = decide(e, d.state);
      pairs.push_back(std::move(pr));
    }
  }
  // Views before appends: a retry after a failure here finds no append made, whereas a duplicate
  // append wakes nobody (its wake-up counts as decided).
  std::set<std::string> wanted;
  for (const auto& pr : pairs)
    if (pr.decision.outband) wanted.insert(pr.key.user + "\n" + pr.key.device_id);
  Views views;
  if (!wanted.empty() && !load_views(wanted, views)) return Outcome::retry;

  std::vector<sessionstore::AppendItem> items;
  for (auto& pr : pairs)
    if (pr.decision.inband) {
      pr.append = items.size();
      items.push_back({&pr.key, &records[pr.record]});
    }
  std::vector<sessionstore::Result<sessionstore::AppendResult>> appended;
  if (!items.empty()) {
    auto r = queue_.append_batch(items);
    if (!r) {
      if (r.error().transient) return fail("append: " + r.error().message);
      log_.error("append batch refused", {{"error", r.error().message}});
      return Outcome::done;
    }
    appended = std::move(*r);
    for (const auto& a : appended)
      if (!a && a.error().transient) return fail("append: " + a.error().message);
  }

  // Metrics, prunes and wake-ups, in batch order.
  std::set<std::string> pruned;  // "user\ndevice" handled in this call
  for (const auto& pr : pairs) {
    const DeviceState& d = pr.device->state;
    const std::string done_key = pr.event->event_id() + "\n" + d.device_id;
    if (!d.has_session && d.channel == OutbandChannel::none) {
      // Neither queue nor wake-up wanted (e.g. the session expired): stop looking at it. The token
      // was read before the state, so a device registered again meanwhile stays.
      if (pruned.insert(pr.key.user + "\n" + pr.key.device_id).second)
        if (auto p = index_.remove_if_unchanged(pr.key, pr.device->token); !p && p.error().transient)
          return fail("device index prune: " + p.error().message);
      metrics_.filtered(FilterReason::no_session);
      finished_.insert(done_key);
      continue;
    }
    static const std::optional<deviceview::DeviceView> kUnknown;
    const auto v = views.find(pr.key.user + "\n" + pr.key.device_id);
    after_append(*pr.event, d, pr.decision, pr.append == SIZE_MAX ? nullptr : &appended[pr.append],
                 v == views.end() ? kUnknown : v->second);
    finished_.insert(done_key);
  }
  // Only a retry of the same batch skips finished pairs; a later redelivery is de-duplicated by
  // Redis like any other.
  current_batch_.clear();
  finished_.clear();
  return Outcome::done;
}

bool Processor::load_views(const std::set<std::string>& wanted, Views& out) {
  redis::Pipeline p;
  for (const auto& k : wanted) {
    const auto nl = k.find('\n');
    p.add({"HGETALL", keys_.view({k.substr(0, nl), k.substr(nl + 1)})});
  }
  auto r = pool_.pipeline(p, redis::Retry::if_stale);
  if (!r) {
    fail("device views: " + r.error().message);
    return false;
  }
  std::size_t i = 0;
  for (const auto& k : wanted) {
    const auto& reply = (*r)[i++];
    if (reply.is_error()) {
      fail("device views: " + reply.debug_string());
      return false;
    }
    std::map<std::string, std::string> saved;
    const auto& e = reply.elements();
    for (std::size_t j = 0; j + 1 < e.size(); j += 2) saved.emplace(e[j].str(), e[j + 1].str());
    out.emplace(k, deviceview::decode_view(saved));
  }
  return true;
}

void Processor::after_append(const v1::StoreEvent& event, const DeviceState& d, const Decision& decision,
                             const sessionstore::Result<sessionstore::AppendResult>* appended,
                             const std::optional<deviceview::DeviceView>& view) {
  std::uint64_t seq = 0;
  bool state_comparison = !d.has_session;
  if (appended != nullptr) {
    if (!*appended) {
      log_.error("append refused", {{"user", event.user()}, {"device", d.device_id},
                                    {"error", appended->error().message}});
      return;
    }
    switch ((*appended)->status) {
      case sessionstore::AppendStatus::duplicate:
        // Seen before (Kafka redelivery, hook + reconcile): its wake-up was decided then.
        metrics_.duplicate();
        return;
      case sessionstore::AppendStatus::stale:
        // Its message was expunged before it reached the queue (events.proto stale_if_seen): the
        // device never hears of it, so there is nothing to wake it for either.
        metrics_.filtered(FilterReason::stale);
        return;
      case sessionstore::AppendStatus::no_session:
        // The session ended between the read and the append.
        metrics_.filtered(FilterReason::no_session);
        state_comparison = true;
        break;
      case sessionstore::AppendStatus::overflow:
        metrics_.overflow();
        state_comparison = true;
        [[fallthrough]];
      case sessionstore::AppendStatus::queued: {
        const auto t = event.store_time_unix_us() > 0 ? event.store_time_unix_us() : event.observed_unix_us();
        const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        metrics_.appended(t > 0 ? static_cast<double>(now_us - t) / 1e6 : -1.0);
        seq = (*appended)->seq;
        break;
      }
    }
  } else if (decision.inband_rejected) {
    metrics_.filtered(*decision.inband_rejected);
  }
  if (decision.outband) wake(event, d, seq, state_comparison, view);
}

void Processor::wake(const v1::StoreEvent& event, const DeviceState& d, std::uint64_t seq, bool state_comparison,
                     const std::optional<deviceview::DeviceView>& view) {
  // Before the gate: a wake-up not sent must not take the coalescing window from the next one.
  if (!state_comparison && !is_news(event, view)) {
    metrics_.filtered(FilterReason::known);
    log_.debug("no wake-up: the device's saved view holds the change",
               {{"user", event.user()}, {"device", d.device_id}, {"event_id", event.event_id()}});
    return;
  }
  const Channel channel = d.channel == OutbandChannel::sms ? Channel::sms : Channel::wap_push;
  const bool channel_on = channel == Channel::sms ? options_.sms.has_value() : options_.wap.has_value();
  if (!channel_on) {
    metrics_.filtered(FilterReason::channel_off);
    log_.debug("wake-up channel off in this notifier", {{"user", event.user()}, {"device", d.device_id},
                                                        {"channel", to_string(channel)}});
    return;
  }
  const sessionstore::DeviceKey key{event.user(), d.device_id};
  auto decision = gate_.try_acquire(key);
  if (!decision) {
    // Not retried (a resend could count twice against the cap); a lost wake-up loses nothing.
    metrics_.redis_error();
    metrics_.wakeup(channel, WakeOutcome::failed);
    log_.warn("wake-up gate unavailable; wake-up skipped",
              {{"user", key.user}, {"device", key.device_id}, {"error", decision.error().message}});
    return;
  }
  if (*decision == sessionstore::WakeDecision::coalesced) {
    metrics_.wakeup(channel, WakeOutcome::coalesced);
    return;
  }
  if (*decision == sessionstore::WakeDecision::capped) {
    metrics_.wakeup(channel, WakeOutcome::capped);
    log_.info("wake-up capped for this hour", {{"user", key.user}, {"device", key.device_id}});
    return;
  }
  WakeupJob job;
  job.channel = channel;
  job.user = key.user;
  job.device_id = key.device_id;
  const auto now = clock_();
  if (channel == Channel::sms) {
    const std::string text = d.format == OutbandFormat::extended
                                 ? extended_message(event, seq, state_comparison)
                                 : emn::to_text(emn_for(event, options_.mail_domain, now));
    job.request = sendsms_request(*options_.sms, d.address, text);
  } else {
    // WAP Push carries EMN whatever the format preference: EXTENDED is an SMS text format.
    PapPush push;
    push.content = emn::encode_wbxml(emn_for(event, options_.mail_domain, now));
    push.msisdn = d.address;
    push.push_id = sessionstore::generate_session_id() + "@" + options_.wap->ppg_host;
    push.boundary = make_boundary(push.content);
    job.request = pap_request(*options_.wap, push);
  }
  submit_(std::move(job));
}

}  // namespace pimap::notifier
