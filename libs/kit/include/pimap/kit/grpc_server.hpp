#pragma once
// A gRPC server set up the pimap way: address and limits from config, keepalive that tolerates our
// clients' pings, the standard grpc.health.v1 health service, and graceful shutdown tied to Lifecycle.
//
//   GrpcServerOptions::declare(schema, "grpc", "127.0.0.1:50051");       // before loading config
//   GrpcServer grpc(GrpcServerOptions::from_config(config, "grpc"), log);
//   grpc.add_service(&my_service);                                       // sync or callback API
//   grpc.start();                                                        // binds; health SERVING
//   grpc.attach(lifecycle);
//
// Shutdown under Lifecycle: stop_accepting sets health to NOT_SERVING (clients that health-check move
// away); the drain hook calls Server::Shutdown(drain deadline), which refuses new calls at once, lets
// in-flight calls finish and cancels those still running at the deadline.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "pimap/kit/config.hpp"
#include "pimap/kit/host_port.hpp"
#include "pimap/kit/lifecycle.hpp"
#include "pimap/kit/log.hpp"

namespace pimap::kit {

struct GrpcServerOptions {
  HostPort listen{"127.0.0.1", 50051};
  int max_message_bytes = 4 * 1024 * 1024;  // both directions
  // Server-initiated pings find dead peers (a device's edge that vanished without FIN).
  std::chrono::milliseconds keepalive_time = std::chrono::seconds(60);
  std::chrono::milliseconds keepalive_timeout = std::chrono::seconds(20);
  // The most frequent client ping accepted; gRPC's default (5 min) would answer our clients' 30 s
  // keepalive with GOAWAY "too_many_pings".
  std::chrono::milliseconds min_client_ping_interval = std::chrono::seconds(10);

  // Declares <prefix>.listen, <prefix>.max_message_bytes, <prefix>.keepalive_seconds,
  // <prefix>.keepalive_timeout_seconds.
  static void declare(Schema& schema, std::string_view prefix = "grpc",
                      std::string_view default_listen = "127.0.0.1:50051");
  static GrpcServerOptions from_config(const Config& config, std::string_view prefix = "grpc");
};

class GrpcServer {
 public:
  GrpcServer(GrpcServerOptions options, Logger log);
  ~GrpcServer();  // shuts down now if still running, joins the drain thread
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Services must outlive the server. Call before start().
  GrpcServer& add_service(grpc::Service* service);
  // For anything not covered here (interceptors, resource quota, callback generic services).
  grpc::ServerBuilder& builder();

  // Throws std::runtime_error naming the address when it cannot bind.
  void start();
  std::uint16_t port() const;  // the bound port (real one if configured as 0)
  grpc::Server& server();

  // Overall health status ("" service) and that of every registered service.
  void set_serving(bool serving);

  // Blocking graceful shutdown: no new calls, in-flight calls until `deadline`, then cancelled.
  void shutdown(std::chrono::system_clock::time_point deadline);

  // Registers the stop_accepting and drain hooks described above.
  void attach(Lifecycle& lifecycle);

 private:
  GrpcServerOptions options_;
  Logger log_;
  std::unique_ptr<grpc::ServerBuilder> builder_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::thread drain_thread_;
};

}  // namespace pimap::kit
