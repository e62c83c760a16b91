// The store-watcher's metrics as a scrape shows them: every labelled series exists before the first
// hook, so dashboards and alerts (helm/pimap) find the families at zero instead of missing.

#include "metrics.hpp"

#include <prometheus/text_serializer.h>

#include <gtest/gtest.h>

#include <string>

namespace pimap::store_watcher {
namespace {

std::string scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(StoreWatcherMetrics, EverySeriesIsDeclaredAtZeroBeforeAnyTraffic) {
  prometheus::Registry registry;
  Metrics metrics(registry);
  const std::string text = scrape(registry);
  for (const char* series : {
           R"(pimap_store_watcher_hooks_received_total{kind="ox",result="ok"} 0)",
           R"(pimap_store_watcher_hooks_received_total{kind="lua",result="publish_failed"} 0)",
           R"(pimap_store_watcher_hooks_received_total{kind="ox",result="bad_request"} 0)",
           R"(pimap_store_watcher_events_published_total{source="push_notification"} 0)",
           R"(pimap_store_watcher_events_published_total{source="reconcile"} 0)",
           R"(pimap_store_watcher_publish_failures_total{source="push_notification"} 0)",
           R"(pimap_store_watcher_publish_failures_total{source="reconcile"} 0)",
           R"(pimap_store_watcher_publish_latency_seconds_count 0)",
           R"(pimap_store_watcher_reconcile_runs_total{result="error"} 0)",
       })
    EXPECT_NE(text.find(series), std::string::npos) << series << " missing from:\n" << text;
}

TEST(StoreWatcherMetrics, CountsLandOnTheDeclaredSeries) {
  prometheus::Registry registry;
  Metrics metrics(registry);
  metrics.hook("ox", "ok");
  metrics.published("push_notification", 0.004);
  metrics.publish_failed("reconcile");
  metrics.reconcile_run(false, 0);
  const std::string text = scrape(registry);
  for (const char* series : {
           R"(pimap_store_watcher_hooks_received_total{kind="ox",result="ok"} 1)",
           R"(pimap_store_watcher_events_published_total{source="push_notification"} 1)",
           R"(pimap_store_watcher_events_published_total{source="reconcile"} 0)",
           R"(pimap_store_watcher_publish_failures_total{source="reconcile"} 1)",
           R"(pimap_store_watcher_publish_latency_seconds_bucket{le="0.005"} 1)",
           R"(pimap_store_watcher_publish_latency_seconds_bucket{le="0.0025"} 0)",
           R"(pimap_store_watcher_reconcile_runs_total{result="error"} 1)",
       })
    EXPECT_NE(text.find(series), std::string::npos) << series << " missing from:\n" << text;
}

}  // namespace
}  // namespace pimap::store_watcher
