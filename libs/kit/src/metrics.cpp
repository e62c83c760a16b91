#include "pimap/kit/metrics.hpp"

#include <mutex>
#include <stdexcept>

#include <prometheus/text_serializer.h>

namespace pimap::kit {

struct Metrics::Shared {
  std::mutex mutex;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables;
};

std::shared_ptr<prometheus::Registry> process_registry() {
  static const auto registry = std::make_shared<prometheus::Registry>();
  return registry;
}

Metrics::Metrics(std::string_view svc, std::shared_ptr<prometheus::Registry> registry)
    : prefix_("pimap_"), registry_(std::move(registry)), shared_(std::make_shared<Shared>()) {
  for (char c : svc) prefix_ += (c == '-' || c == '.') ? '_' : c;
  prefix_ += '_';
  name("x");  // validates the service part
}

std::string Metrics::name(std::string_view what) const {
  std::string full = prefix_ + std::string(what);
  if (what.empty()) throw std::invalid_argument("metrics: empty metric name");
  for (char c : full)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      throw std::invalid_argument("metrics: '" + full + "' is not [a-z0-9_]");
  return full;
}

prometheus::Family<prometheus::Counter>& Metrics::counter_family(std::string_view what, const std::string& help) {
  if (!what.ends_with("_total"))
    throw std::invalid_argument("metrics: counter '" + std::string(what) + "' must end in _total");
  return prometheus::BuildCounter().Name(name(what)).Help(help).Register(*registry_);
}

prometheus::Family<prometheus::Gauge>& Metrics::gauge_family(std::string_view what, const std::string& help) {
  if (what.ends_with("_total"))
    throw std::invalid_argument("metrics: gauge '" + std::string(what) + "' must not end in _total");
  return prometheus::BuildGauge().Name(name(what)).Help(help).Register(*registry_);
}

prometheus::Family<prometheus::Histogram>& Metrics::histogram_family(std::string_view what,
                                                                     const std::string& help) {
  return prometheus::BuildHistogram().Name(name(what)).Help(help).Register(*registry_);
}

prometheus::Counter& Metrics::counter(std::string_view what, const std::string& help,
                                      const prometheus::Labels& labels) {
  return counter_family(what, help).Add(labels);
}

prometheus::Gauge& Metrics::gauge(std::string_view what, const std::string& help, const prometheus::Labels& labels) {
  return gauge_family(what, help).Add(labels);
}

prometheus::Histogram& Metrics::histogram(std::string_view what, const std::string& help,
                                          const prometheus::Histogram::BucketBoundaries& buckets,
                                          const prometheus::Labels& labels) {
  return histogram_family(what, help).Add(labels, buckets);
}

prometheus::Histogram::BucketBoundaries Metrics::latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
}

void Metrics::add_collectable(std::shared_ptr<prometheus::Collectable> collectable) {
  std::lock_guard lock(shared_->mutex);
  shared_->collectables.push_back(std::move(collectable));
}

std::string Metrics::render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<std::shared_ptr<prometheus::Collectable>> extra;
  {
    std::lock_guard lock(shared_->mutex);
    extra = shared_->collectables;
  }
  for (const auto& c : extra) {
    auto more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace pimap::kit
