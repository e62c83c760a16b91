#include "metrics.hpp"

namespace pimap::notifier {

std::string_view to_string(FilterReason r) {
  switch (r) {
    case FilterReason::event_filter: return "event_filter";
    case FilterReason::notification_filter: return "notification_filter";
    case FilterReason::no_session: return "no_session";
    case FilterReason::channel_off: return "channel_off";
    case FilterReason::unparseable: return "unparseable";
    case FilterReason::stale: return "stale";
    case FilterReason::known: return "known";
  }
  return "unknown";
}

std::string_view to_string(Channel c) { return c == Channel::sms ? "sms" : "wap_push"; }

std::string_view to_string(WakeOutcome o) {
  switch (o) {
    case WakeOutcome::sent: return "sent";
    case WakeOutcome::coalesced: return "coalesced";
    case WakeOutcome::capped: return "capped";
    case WakeOutcome::failed: return "failed";
  }
  return "unknown";
}

Metrics::Metrics(kit::Metrics& m)
    : consumed_(m.counter("events_consumed_total", "StoreEvent records taken from Kafka")),
      appended_(m.counter("events_appended_total", "Events appended to a device queue (one per device)")),
      duplicates_(m.counter("duplicates_total", "Appends skipped because the device already had the event id")),
      overflows_(m.counter("queue_overflows_total", "Appends that overflowed a device queue (RESYNC marker)")),
      filtered_(m.counter_family("filtered_total", "Device deliveries not made, by reason")),
      wakeups_(m.counter_family("wakeups_total", "Out-of-band wake-ups by channel and outcome")),
      redis_errors_(m.counter("redis_errors_total", "Failed Redis operations (each retry counts)")),
      commit_failures_(m.counter("kafka_commit_failures_total", "Offset commits Kafka refused (records redelivered)")),
      lag_(m.gauge("kafka_lag_messages", "Records behind the high watermark on the assigned partitions")),
      wakeups_queued_(m.gauge("wakeups_queued", "Wake-ups waiting to be sent or retried")),
      latency_(m.histogram("delivery_latency_seconds", "Store commit (or watcher observation) -> device queue",
                           kit::Metrics::latency_buckets())) {
  // Every series exists from the start, so rates and alerts see zeros instead of gaps.
  for (auto r : {FilterReason::event_filter, FilterReason::notification_filter, FilterReason::no_session,
                 FilterReason::channel_off, FilterReason::unparseable, FilterReason::stale, FilterReason::known})
    filtered_.Add({{"reason", std::string(to_string(r))}});
  for (auto c : {Channel::sms, Channel::wap_push})
    for (auto o : {WakeOutcome::sent, WakeOutcome::coalesced, WakeOutcome::capped, WakeOutcome::failed})
      wakeups_.Add({{"channel", std::string(to_string(c))}, {"outcome", std::string(to_string(o))}});
}

void Metrics::filtered(FilterReason r) { filtered_.Add({{"reason", std::string(to_string(r))}}).Increment(); }

void Metrics::wakeup(Channel c, WakeOutcome o) {
  wakeups_.Add({{"channel", std::string(to_string(c))}, {"outcome", std::string(to_string(o))}}).Increment();
}

}  // namespace pimap::notifier
