#include "processor.hpp"

#include "gateways.hpp"
#include "wakeup_message.hpp"

#include <pimap/emn/text.hpp>
#include <pimap/emn/wbxml.hpp>
#include <pimap/sessionstore/event_record.hpp>
#include <pimap/sessionstore/session_id.hpp>

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

bool Processor::load_devices(const std::string& user, std::vector<IndexedState>& out) {
  auto devices = index_.devices(user);
  if (!devices) {
    fail("device index: " + devices.error().message);
    return false;
  }
  if (devices->empty()) return true;
  redis::Pipeline p;
  for (const auto& d : *devices) {
    const sessionstore::DeviceKey key{user, d.device_id};
    p.add({"HMGET", keys_.session(key), "id", "st", "f"});
    p.add({"HMGET", keys_.prefs(key), "PIMAP_EVENT_FILTER", "PIMAP_OUTBAND_CHANNEL", "PIMAP_OUTBAND_ADDRESS",
           "PIMAP_OUTBAND_FORMAT"});
    p.add({"EXISTS", keys_.attach(key)});
  }
  auto r = pool_.pipeline(p, redis::Retry::if_stale);
  if (!r) {
    fail("device state: " + r.error().message);
    return false;
  }
  auto field = [](const redis::Reply& arr, std::size_t i) -> std::string {
    if (!arr.is_array() || i >= arr.elements().size() || arr.elements()[i].is_nil()) return {};
    return std::string(arr.elements()[i].str());
  };
  for (std::size_t i = 0; i < devices->size(); ++i) {
    const auto& s = (*r)[3 * i];
    const auto& prefs = (*r)[3 * i + 1];
    const auto& attach = (*r)[3 * i + 2];
    if (s.is_error() || prefs.is_error() || attach.is_error()) {
      fail("device state: " + (s.is_error() ? s.debug_string() : prefs.is_error() ? prefs.debug_string()
                                                                                   : attach.debug_string()));
      return false;
    }
    IndexedState st;
    st.token = (*devices)[i].token;
    st.state.device_id = (*devices)[i].device_id;
    st.state.has_session = !field(s, 0).empty();
    st.state.selected = field(s, 1) == "2";
    st.state.folder = field(s, 2);
    st.state.attached = attach.integer() == 1;
    st.state.event_filter = parse_event_filter(field(prefs, 0));
    st.state.channel = parse_channel(field(prefs, 1));
    st.state.address = field(prefs, 2);
    st.state.format = parse_format(field(prefs, 3));
    out.push_back(std::move(st));
  }
  return true;
}

Processor::Outcome Processor::process(const v1::StoreEvent& event) {
  if (event.event_id() != current_event_) {
    current_event_ = event.event_id();
    finished_devices_.clear();
  }
  if (event.user().empty() || event.event_id().empty()) {
    log_.warn("store event without user or id ignored", {{"event_id", event.event_id()}});
    metrics_.filtered(FilterReason::unparseable);
    return Outcome::done;
  }
  std::vector<IndexedState> devices;
  if (!load_devices(event.user(), devices)) return Outcome::retry;
  for (const auto& d : devices) {
    if (finished_devices_.contains(d.state.device_id)) continue;
    if (deliver(event, d) == Outcome::retry) return Outcome::retry;
    finished_devices_.insert(d.state.device_id);
  }
  // Only a retry of the same event skips finished devices; a later redelivery is de-duplicated by
  // Redis like any other.
  current_event_.clear();
  finished_devices_.clear();
  return Outcome::done;
}

Processor::Outcome Processor::deliver(const v1::StoreEvent& event, const IndexedState& device) {
  const DeviceState& d = device.state;
  const sessionstore::DeviceKey key{event.user(), d.device_id};
  if (!d.has_session && d.channel == OutbandChannel::none) {
    // Neither queue nor wake-up wanted (e.g. the session expired): stop looking at it. The token was
    // read before the state, so a device registered again meanwhile stays.
    if (auto pruned = index_.remove_if_unchanged(key, device.token); !pruned && pruned.error().transient)
      return fail("device index prune: " + pruned.error().message);
    metrics_.filtered(FilterReason::no_session);
    return Outcome::done;
  }
  const Decision decision = decide(event, d);
  std::uint64_t seq = 0;
  bool state_comparison = !d.has_session;
  if (decision.inband) {
    auto appended = queue_.append(key, sessionstore::to_record(event));
    if (!appended) {
      if (appended.error().transient) return fail("append: " + appended.error().message);
      log_.error("append refused", {{"user", key.user}, {"device", key.device_id},
                                    {"error", appended.error().message}});
      return Outcome::done;
    }
    switch (appended->status) {
      case sessionstore::AppendStatus::duplicate:
        // Seen before (Kafka redelivery, hook + reconcile): its wake-up was decided then.
        metrics_.duplicate();
        return Outcome::done;
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
        seq = appended->seq;
        break;
      }
    }
  } else if (decision.inband_rejected) {
    metrics_.filtered(*decision.inband_rejected);
  }
  if (decision.outband) wake(event, d, seq, state_comparison);
  return Outcome::done;
}

void Processor::wake(const v1::StoreEvent& event, const DeviceState& d, std::uint64_t seq, bool state_comparison) {
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
