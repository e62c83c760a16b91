#pragma once
// The Kafka lag gauge: every `interval`, the high watermark of each partition this member owns minus
// the next offset the notifier will process there. pimap::kafka's consumer does not expose
// watermarks, so a separate metadata-only librdkafka handle asks the brokers (it never produces and
// joins no group).

#include "metrics.hpp"

#include <pimap/kit/log.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>

namespace RdKafka {
class Producer;
}

namespace pimap::notifier {

class LagProbe {
 public:
  using Positions = std::function<std::map<std::int32_t, std::int64_t>()>;
  LagProbe(std::string brokers, std::string topic, Positions positions, Metrics& metrics, kit::Logger log);
  ~LagProbe();
  // Until stop is requested.
  void run(std::stop_token stop, std::chrono::milliseconds interval);

 private:
  void probe();
  std::string topic_;
  Positions positions_;
  Metrics& metrics_;
  kit::Logger log_;
  std::unique_ptr<RdKafka::Producer> handle_;
};

}  // namespace pimap::notifier
