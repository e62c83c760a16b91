#pragma once
// The admin HTTP endpoint of every service (key `admin.listen`, default 127.0.0.1:9090):
//
//   GET /metrics  200, Prometheus text format (Content-Type: text/plain; version=0.0.4)
//   GET /healthz  200 while the process is alive and its admin thread answers (liveness)
//   GET /readyz   200 {"ready":true}, or 503 with a JSON body naming the failing checks or draining
//
// Other paths answer 404, other methods 405. The server runs on its own io_context and thread, so
// it keeps answering (readyz 503 during a drain) however busy or stuck the service's workers are.

#include <cstdint>
#include <memory>

#include "pimap/kit/host_port.hpp"
#include "pimap/kit/log.hpp"
#include "pimap/kit/metrics.hpp"
#include "pimap/kit/readiness.hpp"

namespace pimap::kit {

class AdminServer {
 public:
  // `metrics` and `readiness` must outlive the server.
  AdminServer(HostPort listen, const Metrics& metrics, const Readiness& readiness, Logger log);
  ~AdminServer();  // stops
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts the thread. Throws std::runtime_error naming the address when it cannot bind.
  void start();
  // Closes the listener and open connections and joins the thread. Idempotent.
  void stop();
  // The bound port (the real one when the configured port was 0); 0 before start().
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pimap::kit
