#include "session_metrics.hpp"

namespace pimap::session {

SessionMetrics::SessionMetrics(kit::Metrics& m)
    : opened(m.counter("sessions_opened_total", "Sessions created by a first login")),
      resumed(m.counter("sessions_resumed_total", "Logins that resumed a live session")),
      detached(m.counter("sessions_detached_total", "Connections gone with the session kept")),
      closed(m.counter("sessions_closed_total", "Sessions ended by LOGOUT")),
      resyncs(m.counter("resyncs_total", "RESYNCs handed to an edge, at resume or in a push")),
      pending_at_resume(m.histogram("pending_events_at_resume", "Queued events a resuming device finds",
                                    {0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000})),
      edge_streams(m.gauge("edge_streams", "Open EdgeStreams (one per edge instance)")),
      attached_devices(m.gauge("attached_devices", "Devices attached on this instance's edge streams")),
      pushes(m.counter("pushes_total", "SessionPush batches sent to edges")),
      pushed_events(m.counter("pushed_events_total", "Events sent to edges in SessionPush batches")),
      wakeups(m.counter("wakeups_total", "Wake-up messages received on this instance's channel")),
      missed_wakeups(m.counter("missed_wakeups_total",
                               "Attached devices the periodic check found with events queued past what was "
                               "pushed and no push under way (a lost wake-up, rarely one still in flight); "
                               "each was pushed then")),
      evictions_limit(m.counter("evictions_total", "Connections evicted by the per-user connection policy",
                                {{"reason", "limit"}})),
      evictions_superseded(m.counter("evictions_total",
                                     "Connections evicted by the per-user connection policy",
                                     {{"reason", "superseded"}})),
      redis_errors(m.counter("redis_errors_total", "Redis operations that failed")),
      rpc_seconds(m.histogram_family("rpc_seconds", "SessionService RPC latency")),
      rpc_errors(m.counter_family("rpc_errors_total", "SessionService RPCs answered with an error")),
      push_latency(m.histogram("push_latency_seconds",
                               "Store commit -> pushed to the device's edge (events while attached)",
                               kit::Metrics::latency_buckets())) {}

}  // namespace pimap::session
