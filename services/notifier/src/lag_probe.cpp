#include "lag_probe.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <thread>

namespace pimap::notifier {

LagProbe::LagProbe(std::string brokers, std::string topic, Positions positions, Metrics& metrics, kit::Logger log)
    : topic_(std::move(topic)), positions_(std::move(positions)), metrics_(metrics), log_(std::move(log)) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  if (conf->set("bootstrap.servers", brokers, err) != RdKafka::Conf::CONF_OK ||
      conf->set("client.id", "pimap-notifier-lag", err) != RdKafka::Conf::CONF_OK ||
      conf->set("log_level", "3", err) != RdKafka::Conf::CONF_OK) {
    log_.warn("kafka lag probe disabled", {{"error", err}});
    return;
  }
  handle_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!handle_) log_.warn("kafka lag probe disabled", {{"error", err}});
}

LagProbe::~LagProbe() = default;

void LagProbe::probe() {
  if (!handle_) return;
  const auto positions = positions_();
  double lag = 0;
  for (const auto& [partition, next] : positions) {
    std::int64_t low = 0, high = 0;
    const auto code = handle_->query_watermark_offsets(topic_, partition, &low, &high, 2000);
    if (code != RdKafka::ERR_NO_ERROR) {
      log_.debug("kafka watermark query failed", {{"partition", partition}, {"error", RdKafka::err2str(code)}});
      return;  // keep the last value rather than report a partial sum
    }
    const std::int64_t from = next >= 0 ? next : low;  // nothing processed or committed yet: all of it
    if (high > from) lag += static_cast<double>(high - from);
  }
  metrics_.set_lag(lag);
}

void LagProbe::run(std::stop_token stop, std::chrono::milliseconds interval) {
  using namespace std::chrono_literals;
  while (!stop.stop_requested()) {
    probe();
    const auto until = std::chrono::steady_clock::now() + interval;
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(100ms);
  }
}

}  // namespace pimap::notifier
