#pragma once
// pimap_notifier_* metrics. Label values come from the fixed sets below, never a user or device.

#include <pimap/kit/metrics.hpp>

#include <chrono>
#include <string_view>

namespace pimap::notifier {

// Why a device did not get an event (filtered_total{reason}).
enum class FilterReason {
  event_filter,         // PIMAP_EVENT_FILTER NEW or NONE
  notification_filter,  // another folder than the selected one, not passing the notification filter
  no_session,           // no session: nothing to queue (the next login is a first login)
  channel_off,          // out-of-band channel configured on the device but off in this notifier
  unparseable,          // the Kafka record was not a StoreEvent
  stale,                // a NEW or flag change of a message whose expunge the device's queue already took
  known,                // no wake-up: the view the device's edge saved already holds the change (news.hpp)
};

enum class Channel { sms, wap_push };
enum class WakeOutcome { sent, coalesced, capped, failed };

std::string_view to_string(FilterReason r);
std::string_view to_string(Channel c);
std::string_view to_string(WakeOutcome o);

class Metrics {
 public:
  explicit Metrics(kit::Metrics& m);

  void consumed() { consumed_.Increment(); }
  void appended(double latency_seconds) {
    appended_.Increment();
    if (latency_seconds >= 0) latency_.Observe(latency_seconds);
  }
  void duplicate() { duplicates_.Increment(); }
  void overflow() { overflows_.Increment(); }
  void filtered(FilterReason r);
  void wakeup(Channel c, WakeOutcome o);
  void redis_error() { redis_errors_.Increment(); }
  void commit_failed() { commit_failures_.Increment(); }
  void set_lag(double messages) { lag_.Set(messages); }
  void set_wakeups_queued(double n) { wakeups_queued_.Set(n); }

 private:
  prometheus::Counter& consumed_;
  prometheus::Counter& appended_;
  prometheus::Counter& duplicates_;
  prometheus::Counter& overflows_;
  prometheus::Family<prometheus::Counter>& filtered_;
  prometheus::Family<prometheus::Counter>& wakeups_;
  prometheus::Counter& redis_errors_;
  prometheus::Counter& commit_failures_;
  prometheus::Gauge& lag_;
  prometheus::Gauge& wakeups_queued_;
  prometheus::Histogram& latency_;
};

}  // namespace pimap::notifier
