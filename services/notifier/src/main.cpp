// pimap-notifier: StoreEvents from Kafka -> per-device Redis queues, and SMS / WAP Push wake-ups for
// devices without a live connection (docs/notifier.md).

#include "consumer_loop.hpp"
#include "http_client.hpp"
#include "lag_probe.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "processor.hpp"
#include "wakeup_sender.hpp"

#include <pimap/kit/service.hpp>
#include <pimap/redis/options.hpp>
#include <pimap/redis/pool.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace kit = pimap::kit;
namespace nt = pimap::notifier;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  kit::Service svc("notifier", argc, argv, nt::schema());
  const auto& cfg = svc.config();
  const auto& log = svc.log();

  nt::Options options;
  try {
    options = nt::from_config(cfg);
  } catch (const std::runtime_error& e) {
    log.error(e.what());
    return 2;
  }
  auto redis_options = pimap::redis::parse_address(cfg.string("redis.address"));
  if (!redis_options) {
    log.error("config: invalid redis.address", {{"error", redis_options.error().message}});
    return 2;
  }
  if (cfg.has("redis.password")) redis_options->password = cfg.string("redis.password");
  redis_options->command_timeout = cfg.duration("redis.command_timeout_seconds");
  if (cfg.has("session.grpc")) log.debug("session.grpc is not used by the notifier");

  nt::Metrics metrics(svc.metrics());
  pimap::redis::Pool pool(*redis_options, static_cast<std::size_t>(cfg.integer("redis.pool_size")));
  nt::SocketHttpClient http(options.delivery.timeout);
  nt::WakeupSender sender(http, options.delivery, metrics, log.with({{"component", "wakeup"}}));
  nt::Processor processor(pool, options, metrics, [&sender](nt::WakeupJob job) { sender.submit(std::move(job)); },
                          log);
  nt::ConsumerLoop loop(options, processor, metrics, log);
  if (!loop.start()) return 1;
  nt::LagProbe lag(options.brokers, options.topic, [&loop] { return loop.positions(); }, metrics, log);

  log.info("notifier starting", {{"topic", options.topic}, {"group", options.group},
                                 {"sms", options.sms.has_value()}, {"wap_push", options.wap.has_value()}});

  svc.readiness().add_check("kafka", [&loop] { return loop.kafka_ok(); });
  svc.readiness().add_check("redis", [&loop] { return loop.redis_ok(); });

  std::jthread consumer([&loop](std::stop_token stop) { loop.run(stop); });
  std::jthread lag_thread([&lag](std::stop_token stop) { lag.run(stop, 5s); });

  svc.lifecycle().on_drain("kafka", [&consumer](kit::DrainToken token) {
    // Finishes the event in hand, commits, leaves the group so partitions move at once.
    consumer.request_stop();
    std::thread([&consumer, token] {
      if (consumer.joinable()) consumer.join();
      token.done();
    }).detach();
  });
  svc.lifecycle().on_drain("wake-ups", [&sender](kit::DrainToken token) {
    sender.stop(token.deadline());
    std::thread([&sender, token] {
      while (sender.queued() > 0 && std::chrono::steady_clock::now() < token.deadline())
        std::this_thread::sleep_for(20ms);
      token.done();
    }).detach();
  });

  const int code = svc.run();
  consumer.request_stop();
  if (consumer.joinable()) consumer.join();
  lag_thread.request_stop();
  return code;
}
