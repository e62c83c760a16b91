#include "edge_metrics.hpp"

namespace pimap::edge {

EdgeMetrics::EdgeMetrics(kit::Metrics& m)
    : parse_errors(m.counter("parse_errors_total", "Commands answered BAD by the parser")),
      slow_consumers(m.counter("slow_consumers_total", "Connections dropped because the client did not read")),
      starttls_injections(m.counter("starttls_injections_total",
                                    "Connections aborted for plaintext pipelined after STARTTLS")),
      idle_timeouts(m.counter("idle_timeouts_total", "Connections closed by an idle timeout")),
      m_(m),
      connections_(m.gauge_family("connections", "Open device connections by binding and state")),
      commands_(m.counter_family("commands_total", "Device commands by name and result")),
      command_seconds_(m.histogram_family("command_duration_seconds", "Device command latency by name")),
      accepted_(m.counter_family("accepted_connections_total", "Accepted device connections by binding")),
      logins_(m.counter_family("logins_total", "Login attempts by result")) {}

prometheus::Gauge& EdgeMetrics::connections(std::string_view binding, std::string_view state) {
  return connections_.Add({{"binding", std::string(binding)}, {"state", std::string(state)}});
}

void EdgeMetrics::command(std::string_view name, std::string_view result, double seconds) {
  const std::string n = name.empty() ? "OTHER" : std::string(name);
  commands_.Add({{"command", n}, {"result", std::string(result)}}).Increment();
  command_seconds_.Add({{"command", n}}, kit::Metrics::latency_buckets()).Observe(seconds);
}

prometheus::Counter& EdgeMetrics::accepted(std::string_view binding) {
  return accepted_.Add({{"binding", std::string(binding)}});
}

prometheus::Counter& EdgeMetrics::logins(std::string_view result) {
  return logins_.Add({{"result", std::string(result)}});
}

}  // namespace pimap::edge
