#pragma once
// The session service's Prometheus metrics (pimap_session_*). No label carries a user or device.

#include <pimap/kit/metrics.hpp>

namespace pimap::session {

struct SessionMetrics {
  explicit SessionMetrics(kit::Metrics& m);

  prometheus::Counter& opened;    // first logins
  prometheus::Counter& resumed;
  prometheus::Counter& detached;
  prometheus::Counter& closed;
  prometheus::Counter& resyncs;   // RESYNCs handed to an edge (at Open or in a push)
  prometheus::Histogram& pending_at_resume;  // queue depth a resuming device finds
  prometheus::Gauge& edge_streams;
  prometheus::Gauge& attached_devices;
  prometheus::Counter& pushes;           // SessionPush batches sent
  prometheus::Counter& pushed_events;
  prometheus::Counter& wakeups;          // wake-up messages received
  prometheus::Counter& missed_wakeups;   // devices the periodic check found with events nobody pushed
  prometheus::Counter& evictions_limit;
  prometheus::Counter& evictions_superseded;
  prometheus::Counter& redis_errors;
  prometheus::Family<prometheus::Histogram>& rpc_seconds;  // label: method
  prometheus::Family<prometheus::Counter>& rpc_errors;     // labels: method, code
  // Store commit (or the watcher's observation) -> SessionPush handed to the device's edge stream, for
  // events that happened while the device was attached (events queued while it was offline would
  // measure its absence, not the pipeline).
  prometheus::Histogram& push_latency;
};

}  // namespace pimap::session
