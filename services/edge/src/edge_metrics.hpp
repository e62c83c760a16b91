#pragma once
// The edge's Prometheus metrics (names follow pimap_edge_<what>_<unit>; no user or device labels).

#include <pimap/kit/metrics.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <string>
#include <string_view>

namespace pimap::edge {

class EdgeMetrics {
 public:
  explicit EdgeMetrics(kit::Metrics& m);

  // pimap_edge_connections{binding,state}: binding imap|imaps|https, state
  // not_authenticated|authenticated|selected|idle.
  prometheus::Gauge& connections(std::string_view binding, std::string_view state);
  // pimap_edge_commands_total{command,result}: command is the canonical name or "OTHER"; result
  // ok|no|bad|unavailable.
  void command(std::string_view name, std::string_view result, double seconds);
  prometheus::Counter& accepted(std::string_view binding);
  prometheus::Counter& logins(std::string_view result);  // ok|failed|unavailable|cookie (HTTPS resume)
  prometheus::Counter& parse_errors;
  prometheus::Counter& slow_consumers;
  prometheus::Counter& starttls_injections;
  prometheus::Counter& idle_timeouts;

 private:
  kit::Metrics& m_;
  prometheus::Family<prometheus::Gauge>& connections_;
  prometheus::Family<prometheus::Counter>& commands_;
  prometheus::Family<prometheus::Histogram>& command_seconds_;
  prometheus::Family<prometheus::Counter>& accepted_;
  prometheus::Family<prometheus::Counter>& logins_;
};

}  // namespace pimap::edge
