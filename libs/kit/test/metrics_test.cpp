#include "pimap/kit/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "pimap/kit/process_metrics.hpp"

namespace pimap::kit {
namespace {

using ::testing::HasSubstr;

// The value of the sample line `name` (exact series, labels included) in a text exposition.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return std::nullopt;
}

TEST(Metrics, NamesFollowTheConvention) {
  Metrics m("store-watcher", std::make_shared<prometheus::Registry>());
  EXPECT_EQ(m.name("events_total"), "pimap_store_watcher_events_total");
  EXPECT_THROW(m.counter("events", "no _total"), std::invalid_argument);
  EXPECT_THROW(m.gauge("queue_total", "gauge named like a counter"), std::invalid_argument);
  EXPECT_THROW(m.gauge("Queue-Depth", "bad characters"), std::invalid_argument);
}

TEST(Metrics, RenderHasTypeLinesAndValues) {
  Metrics m("edge", std::make_shared<prometheus::Registry>());
  auto& logins = m.counter("logins_total", "Successful LOGINs", {{"binding", "tcp"}});
  logins.Increment();
  logins.Increment(2);
  m.gauge("connections", "Open connections").Set(5);
  auto& h = m.histogram("store_command_seconds", "Store round trip", Metrics::latency_buckets());
  h.Observe(0.003);
  h.Observe(0.2);
  std::string text = m.render();
  EXPECT_THAT(text, HasSubstr("# HELP pimap_edge_logins_total Successful LOGINs\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE pimap_edge_logins_total counter\n"));
  EXPECT_EQ(sample(text, "pimap_edge_logins_total{binding=\"tcp\"}"), 3.0);
  EXPECT_THAT(text, HasSubstr("# TYPE pimap_edge_connections gauge\n"));
  EXPECT_EQ(sample(text, "pimap_edge_connections"), 5.0);
  EXPECT_THAT(text, HasSubstr("# TYPE pimap_edge_store_command_seconds histogram\n"));
  EXPECT_EQ(sample(text, "pimap_edge_store_command_seconds_count"), 2.0);
  EXPECT_EQ(sample(text, "pimap_edge_store_command_seconds_bucket{le=\"0.005\"}"), 1.0);
}

TEST(Metrics, DeclaringTheSameMetricTwiceSharesIt) {
  Metrics a("edge", std::make_shared<prometheus::Registry>());
  Metrics b("edge", a.registry());
  a.counter("drops_total", "Drops").Increment();
  b.counter("drops_total", "Drops").Increment();
  EXPECT_EQ(sample(a.render(), "pimap_edge_drops_total"), 2.0);
  EXPECT_ANY_THROW(b.histogram_family("drops_total", "same name, other type"));
}

TEST(Metrics, ProcessMetricsDescribeThisProcess) {
  Metrics m("demo", std::make_shared<prometheus::Registry>());
  add_process_metrics(m);
  std::string text = m.render();
  EXPECT_THAT(text, HasSubstr("# TYPE pimap_demo_build_info gauge\n"));
  EXPECT_EQ(sample(text, "pimap_demo_build_info{version=\"" PIMAP_VERSION "\"}"), 1.0) << text;
  auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto start = sample(text, "pimap_demo_process_start_time_seconds");
  ASSERT_TRUE(start);
  EXPECT_LE(*start, now + 1);
  EXPECT_GT(*start, now - 3600);  // this test process started within the hour
  EXPECT_GE(sample(text, "pimap_demo_process_open_fds").value_or(0), 3.0);  // at least stdin/out/err
  EXPECT_GT(sample(text, "pimap_demo_process_resident_memory_bytes").value_or(0), 1e6);
  EXPECT_GE(sample(text, "pimap_demo_process_threads").value_or(0), 1.0);
  EXPECT_THAT(text, HasSubstr("# TYPE pimap_demo_process_cpu_seconds_total counter\n"));
}

TEST(Metrics, ProcessRegistryIsOnePerProcess) {
  EXPECT_EQ(process_registry(), process_registry());
  Metrics m("edge");
  EXPECT_EQ(m.registry(), process_registry());
}

}  // namespace
}  // namespace pimap::kit
