#include "pimap/kit/grpc_server.hpp"

#include <stdexcept>

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>

namespace pimap::kit {

void GrpcServerOptions::declare(Schema& schema, std::string_view prefix, std::string_view default_listen) {
  std::string p(prefix);
  schema.host_port(p + ".listen", "gRPC listen address").def(default_listen);
  schema.integer(p + ".max_message_bytes", "Largest gRPC message received or sent")
      .def(4 * 1024 * 1024)
      .range(1024, 1024 * 1024 * 1024);
  schema.duration(p + ".keepalive_seconds", "Server keepalive ping interval on idle connections")
      .def(std::chrono::seconds(60))
      .range(std::chrono::seconds(1), std::chrono::hours(2));
  schema.duration(p + ".keepalive_timeout_seconds", "Time to wait for a keepalive ack before closing")
      .def(std::chrono::seconds(20))
      .range(std::chrono::seconds(1), std::chrono::minutes(10));
}

GrpcServerOptions GrpcServerOptions::from_config(const Config& config, std::string_view prefix) {
  std::string p(prefix);
  GrpcServerOptions o;
  o.listen = config.host_port(p + ".listen");
  o.max_message_bytes = static_cast<int>(config.integer(p + ".max_message_bytes"));
  o.keepalive_time = config.duration(p + ".keepalive_seconds");
  o.keepalive_timeout = config.duration(p + ".keepalive_timeout_seconds");
  return o;
}

GrpcServer::GrpcServer(GrpcServerOptions options, Logger log)
    : options_(std::move(options)), log_(std::move(log)), builder_(std::make_unique<grpc::ServerBuilder>()) {}

GrpcServer::~GrpcServer() {
  if (drain_thread_.joinable()) drain_thread_.join();
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
}

GrpcServer& GrpcServer::add_service(grpc::Service* service) {
  builder_->RegisterService(service);
  return *this;
}

grpc::ServerBuilder& GrpcServer::builder() { return *builder_; }

void GrpcServer::start() {
  // Read when the server is built: the standard grpc.health.v1.Health service, answered by gRPC itself.
  grpc::EnableDefaultHealthCheckService(true);
  auto ms = [](std::chrono::milliseconds d) { return static_cast<int>(d.count()); };
  builder_->AddListeningPort(options_.listen.to_string(), grpc::InsecureServerCredentials(), &port_);
  builder_->SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder_->SetMaxSendMessageSize(options_.max_message_bytes);
  builder_->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(options_.keepalive_time));
  builder_->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(options_.keepalive_timeout));
  builder_->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder_->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                               ms(options_.min_client_ping_interval));
  builder_->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  server_ = builder_->BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    throw std::runtime_error("grpc: cannot listen on " + options_.listen.to_string());
  }
  set_serving(true);
  log_.info("grpc server listening", {{"address", options_.listen.host}, {"port", port_}});
}

std::uint16_t GrpcServer::port() const { return static_cast<std::uint16_t>(port_); }

grpc::Server& GrpcServer::server() {
  if (!server_) throw std::logic_error("GrpcServer::server() before start()");
  return *server_;
}

void GrpcServer::set_serving(bool serving) {
  if (!server_) return;
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(serving);
}

void GrpcServer::shutdown(std::chrono::system_clock::time_point deadline) {
  if (server_) server_->Shutdown(deadline);
}

void GrpcServer::attach(Lifecycle& lifecycle) {
  lifecycle.on_stop_accepting("grpc health NOT_SERVING", [this] { set_serving(false); });
  lifecycle.on_drain("grpc in-flight calls", [this](DrainToken token) {
    // Shutdown blocks until in-flight calls end, so it gets its own thread. It cancels what is left a
    // little before the lifecycle's cut-off, so cancelled calls still get their status out.
    auto left = token.deadline() - std::chrono::steady_clock::now() - std::chrono::milliseconds(100);
    auto deadline = std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(
                        std::max(left, std::chrono::steady_clock::duration::zero()));
    drain_thread_ = std::thread([this, token, deadline] {
      shutdown(deadline);
      token.done();
    });
  });
}

}  // namespace pimap::kit
