#pragma once
// Metrics every service exports about itself, computed from /proc/self at scrape time:
//
//   pimap_<svc>_build_info{version="0.1.0"} 1
//   pimap_<svc>_process_start_time_seconds         (Unix time)
//   pimap_<svc>_process_open_fds
//   pimap_<svc>_process_resident_memory_bytes
//   pimap_<svc>_process_cpu_seconds_total
//   pimap_<svc>_process_threads

#include "pimap/kit/metrics.hpp"

namespace pimap::kit {

// Adds the collector to `metrics` (so it is served with the registry).
void add_process_metrics(Metrics& metrics);

}  // namespace pimap::kit
