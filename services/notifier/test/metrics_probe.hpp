#pragma once
// Reads the notifier's counters back in tests (same family and labels return the same series).

#include <pimap/kit/metrics.hpp>

#include <memory>
#include <string>

namespace pimap::notifier::test {

struct MetricsProbe {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  kit::Metrics kit{"notifier", registry};

  double counter(const std::string& what, const prometheus::Labels& labels = {}) {
    return kit.counter_family(what, "").Add(labels).Value();
  }
  double wakeups(const std::string& channel, const std::string& outcome) {
    return counter("wakeups_total", {{"channel", channel}, {"outcome", outcome}});
  }
  double filtered(const std::string& reason) { return counter("filtered_total", {{"reason", reason}}); }
};

}  // namespace pimap::notifier::test
