#pragma once
// gRPC's own diagnostics (gpr_log) would go to stderr in gRPC's text format and break the one-JSON-
// object-per-line rule; this routes them through a kit Logger instead ("msg":"grpc: ...", with the
// gRPC source file and line as fields). Service does this at start.

#include "pimap/kit/log.hpp"

namespace pimap::kit {

// Process-wide (gRPC has one log function); a later call replaces the logger.
void route_grpc_logs_to(const Logger& log);

}  // namespace pimap::kit
