#include "pimap/kit/grpc_client.hpp"

#include <cstdio>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "json_text.hpp"

namespace pimap::kit {
namespace {

// Protobuf JSON duration: seconds with a fractional part, "0.100s".
std::string proto_duration(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03llds", static_cast<long long>(d.count() / 1000),
                static_cast<long long>(d.count() % 1000));
  return buf;
}

}  // namespace

void GrpcClientOptions::declare(Schema& schema, std::string_view prefix, std::string_view default_target) {
  std::string p(prefix);
  schema.string(p + ".target", "gRPC target: host:port or a gRPC URI such as dns:///name:port").def(default_target);
  schema.duration(p + ".deadline_seconds", "Default deadline of one call, retries included")
      .def(std::chrono::seconds(5))
      .range(std::chrono::milliseconds(1), std::chrono::hours(1));
  schema.integer(p + ".max_attempts", "Attempts per call when the server is UNAVAILABLE (1 = no retry)")
      .def(4)
      .range(1, 5);
  schema.duration(p + ".initial_backoff_seconds", "Backoff before the first retry; doubles per retry")
      .def(std::chrono::milliseconds(100))
      .range(std::chrono::milliseconds(1), std::chrono::seconds(60));
  schema.duration(p + ".max_backoff_seconds", "Upper bound of the retry backoff")
      .def(std::chrono::seconds(2))
      .range(std::chrono::milliseconds(1), std::chrono::minutes(10));
  schema.duration(p + ".keepalive_seconds", "Client keepalive ping interval (servers accept >= 10s)")
      .def(std::chrono::seconds(30))
      .range(std::chrono::seconds(10), std::chrono::hours(2));
  schema.boolean(p + ".wait_for_ready", "Calls wait for a connection (until their deadline) instead of failing fast")
      .def(false);
}

GrpcClientOptions GrpcClientOptions::from_config(const Config& config, std::string_view prefix) {
  std::string p(prefix);
  GrpcClientOptions o;
  o.target = config.string(p + ".target");
  o.default_deadline = config.duration(p + ".deadline_seconds");
  o.max_attempts = static_cast<int>(config.integer(p + ".max_attempts"));
  o.initial_backoff = config.duration(p + ".initial_backoff_seconds");
  o.max_backoff = config.duration(p + ".max_backoff_seconds");
  o.keepalive_time = config.duration(p + ".keepalive_seconds");
  o.wait_for_ready = config.boolean(p + ".wait_for_ready");
  return o;
}

std::string grpc_service_config_json(const GrpcClientOptions& o) {
  // An empty name object matches every method of every service on the channel.
  std::string json = "{\"methodConfig\":[{\"name\":[{}]";
  if (o.max_attempts >= 2) {
    json += ",\"retryPolicy\":{\"maxAttempts\":" + std::to_string(o.max_attempts) +
            ",\"initialBackoff\":\"" + proto_duration(o.initial_backoff) + "\"" +
            ",\"maxBackoff\":\"" + proto_duration(std::max(o.max_backoff, o.initial_backoff)) + "\"" +
            ",\"backoffMultiplier\":" + std::to_string(o.backoff_multiplier) + ",\"retryableStatusCodes\":[";
    for (std::size_t i = 0; i < o.retryable_codes.size(); ++i) {
      if (i) json += ',';
      detail::append_json_string(json, o.retryable_codes[i]);
    }
    json += "]}";
  }
  return json + "}]}";
}

GrpcClient::GrpcClient(GrpcClientOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(grpc_service_config_json(options_));
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);  // ours, not one from DNS TXT records
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options_.keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options_.keepalive_timeout.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetMaxReceiveMessageSize(options_.max_message_bytes);
  args.SetMaxSendMessageSize(options_.max_message_bytes);
  channel_ = grpc::CreateCustomChannel(options_.target, grpc::InsecureChannelCredentials(), args);
}

void GrpcClient::prepare(grpc::ClientContext& context) const { prepare(context, options_.default_deadline); }

void GrpcClient::prepare(grpc::ClientContext& context, std::chrono::milliseconds deadline) const {
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  context.set_wait_for_ready(options_.wait_for_ready);
}

}  // namespace pimap::kit
