#pragma once
// Internal: building librdkafka configurations and routing librdkafka's events (logs, errors).

#include <pimap/kafka/error.hpp>
#include <pimap/kafka/options.hpp>

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pimap::kafka::detail {

// Sets `properties` in order, then options.extra; the first rejected property is the error.
Result<std::unique_ptr<RdKafka::Conf>> make_conf(
    const CommonOptions& options, const std::vector<std::pair<std::string, std::string>>& properties);

// Receives librdkafka's log and error events; remembers a fatal error.
class EventRouter : public RdKafka::EventCb {
 public:
  explicit EventRouter(LogSink sink) : sink_(std::move(sink)) {}
  void event_cb(RdKafka::Event& event) override;
  void set_handle(RdKafka::Handle* handle) { handle_ = handle; }
  std::optional<Error> fatal() const;

 private:
  LogSink sink_;
  RdKafka::Handle* handle_ = nullptr;
  mutable std::mutex mu_;
  std::optional<Error> fatal_;
};

}  // namespace pimap::kafka::detail
