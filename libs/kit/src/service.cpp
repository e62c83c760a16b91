#include "pimap/kit/service.hpp"

#include <cstdlib>
#include <iostream>

#include "pimap/kit/config_value.hpp"
#include "pimap/kit/grpc_log.hpp"
#include "pimap/kit/process_metrics.hpp"
#include "pimap/kit/startup.hpp"

#ifndef PIMAP_VERSION
#define PIMAP_VERSION "unknown"
#endif

namespace pimap::kit {

Service::Service(std::string name, int argc, char** argv, Schema schema) : name_(std::move(name)) {
  declare_standard_keys(schema);
  {
    Logger boot(name_, Level::info);
    auto startup = parse_startup("pimap-" + name_, argc, argv, schema, process_environment(), std::cout, boot);
    if (!startup.config) {
      std::cout.flush();
      std::exit(startup.exit_code);
    }
    config_ = std::make_unique<Config>(std::move(*startup.config));
  }

  log_ = std::make_unique<Logger>(name_, parse_level(config_->string("log.level")).value_or(Level::info));
  for (const auto& key : config_->schema().keys())
    if (key.secret && config_->has(key.path)) log_->redact_value(format_value(config_->value(key.path)));

  route_grpc_logs_to(*log_);

  metrics_ = std::make_unique<Metrics>(name_);
  add_process_metrics(*metrics_);
  readiness_.add_check("started", [this] { return started_.load(); });

  // Before the lifecycle: no threads run yet, so a failure here can still exit() cleanly.
  admin_ = std::make_unique<AdminServer>(config_->host_port("admin.listen"), *metrics_, readiness_, *log_);
  try {
    admin_->start();
  } catch (const std::exception& e) {
    log_->error(e.what());
    std::exit(1);
  }

  Lifecycle::Options options;
  options.worker_threads = static_cast<unsigned>(config_->integer("runtime.worker_threads"));
  options.drain_timeout = config_->duration("shutdown.drain_seconds");
  lifecycle_ = std::make_unique<Lifecycle>(options, *log_, readiness_);
  log_->info("starting", {{"version", PIMAP_VERSION}, {"admin_port", admin_->port()}});
}

Service::~Service() = default;

int Service::run() {
  started_.store(true);
  log_->info("running");
  int code = lifecycle_->run();
  admin_->stop();
  return code;
}

}  // namespace pimap::kit
