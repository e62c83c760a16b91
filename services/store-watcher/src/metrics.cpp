#include "metrics.hpp"

#include <string>

namespace pimap::store_watcher {

Metrics::Metrics(prometheus::Registry& registry)
    : hooks_(prometheus::BuildCounter()
                 .Name("pimap_store_watcher_hooks_received_total")
                 .Help("push_notification calls received, by driver and outcome")
                 .Register(registry)),
      published_(prometheus::BuildCounter()
                     .Name("pimap_store_watcher_events_published_total")
                     .Help("StoreEvents durably in Kafka, by source")
                     .Register(registry)),
      publish_failures_(prometheus::BuildCounter()
                            .Name("pimap_store_watcher_publish_failures_total")
                            .Help("StoreEvents Kafka did not accept, by source")
                            .Register(registry)),
      publish_latency_(prometheus::BuildHistogram()
                           .Name("pimap_store_watcher_publish_latency_seconds")
                           .Help("produce() to acks=all delivery report")
                           .Register(registry)
                           .Add({}, prometheus::Histogram::BucketBoundaries{
                                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})),
      reconcile_ok_(prometheus::BuildCounter()
                        .Name("pimap_store_watcher_reconcile_runs_total")
                        .Help("per-user reconcile runs against the store, by result")
                        .Register(registry)
                        .Add({{"result", "ok"}})),
      reconcile_error_(prometheus::BuildCounter()
                           .Name("pimap_store_watcher_reconcile_runs_total")
                           .Help("per-user reconcile runs against the store, by result")
                           .Register(registry)
                           .Add({{"result", "error"}})),
      reconcile_changes_(prometheus::BuildCounter()
                             .Name("pimap_store_watcher_reconcile_changes_total")
                             .Help("changes a reconcile run found that no hook had to report")
                             .Register(registry)
                             .Add({})),
      owned_partitions_(prometheus::BuildGauge()
                            .Name("pimap_store_watcher_owned_partitions")
                            .Help("control-topic partitions (user shards) this replica owns")
                            .Register(registry)
                            .Add({})),
      watched_users_(prometheus::BuildGauge()
                         .Name("pimap_store_watcher_watched_users")
                         .Help("watched users in the shards this replica owns")
                         .Register(registry)
                         .Add({})),
      reconcile_pending_(prometheus::BuildGauge()
                             .Name("pimap_store_watcher_reconcile_pending_users")
                             .Help("users with a reconcile queued or backing off after a failure")
                             .Register(registry)
                             .Add({})),
      notify_connections_(prometheus::BuildGauge()
                              .Name("pimap_store_watcher_notify_connections")
                              .Help("watch.mode notify / idle: IMAP connections with NOTIFY or IDLE in effect")
                              .Register(registry)
                              .Add({})) {
  // Every series exists from the start, so dashboards and alerts see zeros instead of gaps (and a
  // scrape lists every family: an empty labelled family is not serialised at all).
  for (const char* kind : {"ox", "lua"})
    for (const char* result : {"ok", "bad_request", "publish_failed"}) hooks_.Add({{"kind", kind}, {"result", result}});
  for (const char* source : {"push_notification", "reconcile"}) {
    published_.Add({{"source", source}});
    publish_failures_.Add({{"source", source}});
  }
}

void Metrics::hook(std::string_view kind, std::string_view result) {
  hooks_.Add({{"kind", std::string(kind)}, {"result", std::string(result)}}).Increment();
}

void Metrics::published(std::string_view source, double latency_seconds) {
  published_.Add({{"source", std::string(source)}}).Increment();
  publish_latency_.Observe(latency_seconds);
}

void Metrics::publish_failed(std::string_view source) {
  publish_failures_.Add({{"source", std::string(source)}}).Increment();
}

void Metrics::reconcile_run(bool ok, std::size_t changes) {
  (ok ? reconcile_ok_ : reconcile_error_).Increment();
  reconcile_changes_.Increment(static_cast<double>(changes));
}

}  // namespace pimap::store_watcher
