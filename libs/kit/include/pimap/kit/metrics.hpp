#pragma once
// Prometheus metrics with pimap's naming convention.
//
// All metrics of a process live in one prometheus-cpp core Registry (process_registry()), which the
// admin server's GET /metrics serializes. `Metrics` is a small handle that prefixes names with
// `pimap_<svc>_` ("store-watcher" -> "pimap_store_watcher_") and enforces the suffix rules:
//
//   Metrics m("edge");
//   auto& logins = m.counter("logins_total", "Successful LOGINs");               // pimap_edge_logins_total
//   auto& conns  = m.gauge("connections", "Open device connections", {{"binding", "tcp"}});
//   auto& rtt    = m.histogram("store_command_seconds", "Store round-trip", Metrics::latency_buckets());
//
// Counters must end in "_total". Names are [a-z0-9_]. Label values must come from a small fixed set
// (binding, status code, ...), never a user or device id: each distinct value is a new time series.
// Declaring the same name twice returns the same family (so components can declare what they use);
// the same name with another type throws.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/labels.h>
#include <prometheus/registry.h>

namespace pimap::kit {

// The registry of this process.
std::shared_ptr<prometheus::Registry> process_registry();

class Metrics {
 public:
  explicit Metrics(std::string_view svc,
                   std::shared_ptr<prometheus::Registry> registry = process_registry());

  // "pimap_<svc>_<what>"; throws std::invalid_argument for characters outside [a-z0-9_].
  std::string name(std::string_view what) const;

  prometheus::Family<prometheus::Counter>& counter_family(std::string_view what, const std::string& help);
  prometheus::Family<prometheus::Gauge>& gauge_family(std::string_view what, const std::string& help);
  prometheus::Family<prometheus::Histogram>& histogram_family(std::string_view what, const std::string& help);

  prometheus::Counter& counter(std::string_view what, const std::string& help,
                               const prometheus::Labels& labels = {});
  prometheus::Gauge& gauge(std::string_view what, const std::string& help,
                           const prometheus::Labels& labels = {});
  prometheus::Histogram& histogram(std::string_view what, const std::string& help,
                                   const prometheus::Histogram::BucketBoundaries& buckets,
                                   const prometheus::Labels& labels = {});

  // 1 ms .. 10 s, roughly x2.5 per step: request and store latencies.
  static prometheus::Histogram::BucketBoundaries latency_buckets();

  // Another source of families served with the registry's (e.g. process metrics computed per scrape),
  // by render() of this handle and its copies.
  void add_collectable(std::shared_ptr<prometheus::Collectable> collectable);

  // Everything /metrics serves, in Prometheus text exposition format 0.0.4.
  std::string render() const;

  const std::string& prefix() const { return prefix_; }
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  struct Shared;
  std::string prefix_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace pimap::kit
