#pragma once
// pimap_store_watcher_* metrics (prometheus-cpp). No user or mailbox names as label values.

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string_view>

namespace pimap::store_watcher {

class Metrics {
 public:
  explicit Metrics(prometheus::Registry& registry);

  // kind: ox|lua; result: ok|bad_request|publish_failed|unsupported
  void hook(std::string_view kind, std::string_view result);
  void published(std::string_view source, double latency_seconds);
  void publish_failed(std::string_view source);
  void reconcile_run(bool ok, std::size_t changes);
  void set_owned_partitions(double n) { owned_partitions_.Set(n); }
  void set_watched_users(double n) { watched_users_.Set(n); }
  void set_reconcile_pending(double n) { reconcile_pending_.Set(n); }
  void set_notify_connections(double n) { notify_connections_.Set(n); }

 private:
  prometheus::Family<prometheus::Counter>& hooks_;
  prometheus::Family<prometheus::Counter>& published_;
  prometheus::Family<prometheus::Counter>& publish_failures_;
  prometheus::Histogram& publish_latency_;
  prometheus::Counter& reconcile_ok_;
  prometheus::Counter& reconcile_error_;
  prometheus::Counter& reconcile_changes_;
  prometheus::Gauge& owned_partitions_;
  prometheus::Gauge& watched_users_;
  prometheus::Gauge& reconcile_pending_;
  prometheus::Gauge& notify_connections_;
};

}  // namespace pimap::store_watcher
