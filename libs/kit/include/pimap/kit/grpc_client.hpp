#pragma once
// A gRPC client channel set up the pimap way: a default deadline for every call, automatic retries of
// UNAVAILABLE with exponential backoff (via the channel's service config, so it applies to every method
// and every stub), keepalive pings, and an optional wait-for-ready.
//
//   GrpcClientOptions::declare(schema, "session", "127.0.0.1:50051");
//   GrpcClient session(GrpcClientOptions::from_config(config, "session"));
//   auto stub = session.stub<pimap::v1::SessionService>();
//   grpc::ClientContext ctx;
//   session.prepare(ctx);                 // deadline now + session.deadline_seconds
//   grpc::Status s = stub->Open(&ctx, request, &reply);
//
// Retries are only safe because every pimap RPC is idempotent or carries its own dedup key; a method
// for which that stops being true must get its own channel without retries (max_attempts = 1).
// The deadline covers all attempts together.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "pimap/kit/config.hpp"

namespace pimap::kit {

struct GrpcClientOptions {
  std::string target = "127.0.0.1:50051";  // host:port, or any gRPC target URI ("dns:///session:50051")
  std::chrono::milliseconds default_deadline = std::chrono::seconds(5);

  int max_attempts = 4;  // including the first; gRPC caps it at 5
  std::chrono::milliseconds initial_backoff = std::chrono::milliseconds(100);
  std::chrono::milliseconds max_backoff = std::chrono::seconds(2);
  double backoff_multiplier = 2.0;
  std::vector<std::string> retryable_codes = {"UNAVAILABLE"};

  std::chrono::milliseconds keepalive_time = std::chrono::seconds(30);
  std::chrono::milliseconds keepalive_timeout = std::chrono::seconds(10);
  // Calls wait for the channel to connect (up to their deadline) instead of failing fast with
  // UNAVAILABLE while the server is down: right for background work, wrong for a device waiting.
  bool wait_for_ready = false;
  int max_message_bytes = 4 * 1024 * 1024;

  // Declares <prefix>.target, <prefix>.deadline_seconds, <prefix>.max_attempts,
  // <prefix>.initial_backoff_seconds, <prefix>.max_backoff_seconds, <prefix>.keepalive_seconds,
  // <prefix>.wait_for_ready.
  static void declare(Schema& schema, std::string_view prefix, std::string_view default_target);
  static GrpcClientOptions from_config(const Config& config, std::string_view prefix);
};

// The service config JSON given to the channel (methodConfig for all methods with a retryPolicy).
std::string grpc_service_config_json(const GrpcClientOptions& options);

class GrpcClient {
 public:
  explicit GrpcClient(GrpcClientOptions options);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const GrpcClientOptions& options() const { return options_; }

  // Applies the default deadline (or the given one) and wait-for-ready to a fresh context.
  void prepare(grpc::ClientContext& context) const;
  void prepare(grpc::ClientContext& context, std::chrono::milliseconds deadline) const;

  template <class Service>
  auto stub() const {
    return Service::NewStub(channel_);
  }

 private:
  GrpcClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace pimap::kit
