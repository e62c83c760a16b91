#pragma once
// Everything a pimap service process is made of, composed in the one order that works:
// configuration -> logger -> metrics -> readiness -> admin server -> lifecycle.
//
//   int main(int argc, char** argv) {
//     kit::Schema schema;
//     schema.host_port("store.address", "IMAP store").def("127.0.0.1:143");
//     kit::Service svc("edge", argc, argv, std::move(schema));  // may exit: 0 help, 2 bad config
//     ... build components on svc.io(), register hooks and readiness checks ...
//     return svc.run();                                       // blocks until SIGTERM has drained
//   }
//
// The standard keys (startup.hpp) are added to the schema. Readiness has a built-in check "started"
// that passes once run() is entered, so /readyz stays 503 while the service is still wiring itself up,
// while /healthz and /metrics answer from the moment the constructor returns.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "pimap/kit/admin_server.hpp"
#include "pimap/kit/config.hpp"
#include "pimap/kit/lifecycle.hpp"
#include "pimap/kit/log.hpp"
#include "pimap/kit/metrics.hpp"
#include "pimap/kit/readiness.hpp"

namespace pimap::kit {

class Service {
 public:
  // `name` is the service name: "edge", "session", "store-watcher", "notifier". Exits the process
  // (0 after --help/--print-config, 2 on a bad configuration, 1 when the admin port cannot be bound).
  Service(std::string name, int argc, char** argv, Schema schema);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const std::string& name() const { return name_; }
  const Config& config() const { return *config_; }
  const Logger& log() const { return *log_; }
  Metrics& metrics() { return *metrics_; }
  Readiness& readiness() { return readiness_; }
  Lifecycle& lifecycle() { return *lifecycle_; }
  boost::asio::io_context& io() { return lifecycle_->io(); }
  std::uint16_t admin_port() const { return admin_->port(); }

  // Marks the service started (readyz may pass), runs until the shutdown sequence has finished, stops
  // the admin server and returns the exit code for main().
  int run();

 private:
  std::string name_;
  std::unique_ptr<Config> config_;
  std::unique_ptr<Logger> log_;
  std::unique_ptr<Metrics> metrics_;
  Readiness readiness_;
  std::atomic<bool> started_{false};
  std::unique_ptr<Lifecycle> lifecycle_;
  std::unique_ptr<AdminServer> admin_;
};

}  // namespace pimap::kit
