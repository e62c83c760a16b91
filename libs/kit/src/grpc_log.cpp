#include "pimap/kit/grpc_log.hpp"

#include <atomic>
#include <string>

#include <grpc/support/log.h>

namespace pimap::kit {
namespace {

// Leaked on purpose: gRPC may log from its own threads during static destruction.
std::atomic<const Logger*> grpc_logger{nullptr};

void forward(gpr_log_func_args* args) {
  const Logger* log = grpc_logger.load();
  if (!log || !args) return;
  Level level = args->severity == GPR_LOG_SEVERITY_ERROR  ? Level::error
                : args->severity == GPR_LOG_SEVERITY_INFO ? Level::info
                                                          : Level::debug;
  if (!log->enabled(level)) return;
  std::string msg = "grpc: ";
  msg += args->message ? args->message : "";
  log->log(level, msg, {{"grpc_file", args->file ? args->file : ""}, {"grpc_line", args->line}});
}

}  // namespace

void route_grpc_logs_to(const Logger& log) {
  grpc_logger.store(new Logger(log));
  gpr_set_log_function(forward);
  // Before grpc_init() gRPC drops every line; this sets the threshold (GRPC_VERBOSITY, default ERROR)
  // now, so that problems during start-up are reported too.
  gpr_log_verbosity_init();
}

}  // namespace pimap::kit
