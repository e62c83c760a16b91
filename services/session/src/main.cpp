// pimap-session: P-IMAP sessions, preferences and per-device event queues (Redis), served over
// gRPC to the edges (proto/pimap/session.proto).

#include "options.hpp"
#include "push_hub.hpp"
#include "session_metrics.hpp"
#include "session_rpc.hpp"
#include "store.hpp"
#include "work_queue.hpp"

#include <pimap/kit/grpc_server.hpp>
#include <pimap/kit/service.hpp>
#include <pimap/redis/options.hpp>
#include <pimap/redis/pool.hpp>

#include <chrono>
#include <iostream>

using namespace std::chrono_literals;
namespace kit = pimap::kit;

int main(int argc, char** argv) {
  kit::Schema schema;
  kit::GrpcServerOptions::declare(schema, "grpc", "127.0.0.1:50051");
  schema.string("redis.address", "Redis: host:port or redis://[:password@]host:port[/db]").def("127.0.0.1:6379");
  schema.string("redis.password", "Redis AUTH password (overrides one in redis.address)").optional().secret();
  schema.integer("redis.pool_size", "Redis connections for request work").def(16).range(1, 1024);
  schema.duration("redis.command_timeout_seconds", "Longest wait for a Redis reply").def(2s).range(10ms, 60s);
  schema.duration("session.lifetime_seconds", "Session lifetime since the device's last contact")
      .def(std::chrono::hours(24 * 7))
      .range(std::chrono::seconds(10), std::chrono::hours(24 * 365));
  schema.integer("queue.max_events", "Per-device event queue bound; overflow means RESYNC").def(10000).range(1, 1000000);
  schema.integer("session.max_connections_per_user", "Concurrent connections per user before the longest idle is evicted")
      .def(10)
      .range(1, 10000);
  schema.string("session.instance_id", "Unique id of this instance (wake-up channel); default host-pid-random")
      .optional();
  schema.integer("session.worker_threads", "Threads doing Redis work for RPCs and pushes").def(4).range(1, 256);
  schema.duration("session.attach_ttl_seconds", "TTL of an attach registration (refreshed every third)")
      .def(90s)
      .range(1s, std::chrono::hours(1));
  schema.integer("session.push_batch", "Most events in one SessionPush").def(500).range(1, 10000);

  kit::Service svc("session", argc, argv, std::move(schema));
  const kit::Config& cfg = svc.config();

  auto redis_options = pimap::redis::parse_address(cfg.string("redis.address"));
  if (!redis_options) {
    svc.log().error("config: invalid redis.address", {{"error", redis_options.error().message}});
    return 2;
  }
  if (cfg.has("redis.password")) redis_options->password = cfg.string("redis.password");
  redis_options->command_timeout = cfg.duration("redis.command_timeout_seconds");

  pimap::session::Options options;
  options.instance_id = cfg.has("session.instance_id") ? cfg.string("session.instance_id")
                                                        : pimap::session::default_instance_id();
  options.sessions.lifetime = std::chrono::duration_cast<std::chrono::seconds>(cfg.duration("session.lifetime_seconds"));
  options.queue.max_events = static_cast<std::size_t>(cfg.integer("queue.max_events"));
  options.sessions.max_pending_read = options.queue.max_events;
  options.policy.max_per_user = static_cast<std::size_t>(cfg.integer("session.max_connections_per_user"));
  options.attach_ttl = cfg.duration("session.attach_ttl_seconds");
  options.push_batch = static_cast<std::size_t>(cfg.integer("session.push_batch"));
  options.worker_threads = static_cast<unsigned>(cfg.integer("session.worker_threads"));

  pimap::redis::Pool pool(*redis_options, static_cast<std::size_t>(cfg.integer("redis.pool_size")));
  pimap::session::Store store(pool, options);
  pimap::session::SessionMetrics metrics(svc.metrics());
  pimap::session::WorkQueue work(options.worker_threads);
  pimap::session::PushHub hub(*redis_options, store, options, work, metrics, svc.log());
  pimap::session::SessionRpc rpc(store, hub, work, options, metrics, svc.log());

  kit::GrpcServer grpc(kit::GrpcServerOptions::from_config(cfg, "grpc"), svc.log());
  grpc.add_service(&rpc);
  try {
    grpc.start();
  } catch (const std::exception& e) {
    svc.log().error("cannot start gRPC server", {{"error", e.what()}});
    return 1;
  }
  grpc.attach(svc.lifecycle());
  // Edge streams never end by themselves: close them when draining starts so that every edge moves
  // to another instance at once instead of at the drain deadline.
  svc.lifecycle().on_stop_accepting("edge-streams", [&hub] { hub.close_streams("session instance draining"); });
  hub.start();
  svc.readiness().add_check("redis", [&hub] { return hub.redis_ready(); });
  svc.log().info("session service started",
                 {{"grpc", cfg.host_port("grpc.listen").to_string()}, {"port", static_cast<int>(grpc.port())},
                  {"instance", options.instance_id}, {"redis", redis_options->host + ":" + std::to_string(redis_options->port)}});

  const int code = svc.run();
  hub.stop();
  grpc.shutdown(std::chrono::system_clock::now());
  work.stop();
  return code;
}
