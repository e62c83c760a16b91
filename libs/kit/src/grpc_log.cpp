#include "pimap/kit/grpc_log.hpp"

#include <atomic>
#include <deque>
#include <mutex>
#include <string>

#include <grpc/support/log.h>

namespace pimap::kit {
namespace {

// Never destroyed, and a replaced logger is kept too: gRPC may log from its own threads at any time,
// including during static destruction, through a pointer it loaded just before a replacement.
std::atomic<const Logger*> grpc_logger{nullptr};
std::mutex installed_mutex;
std::deque<Logger>& installed() {
  static auto* loggers = new std::deque<Logger>();
  return *loggers;
}

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
  {
    std::lock_guard lock(installed_mutex);
    installed().push_back(log);
    grpc_logger.store(&installed().back());
  }
  gpr_set_log_function(forward);
  // Before grpc_init() gRPC drops every line; this sets the threshold (GRPC_VERBOSITY, default ERROR)
  // now, so that problems during start-up are reported too.
  gpr_log_verbosity_init();
}

}  // namespace pimap::kit
