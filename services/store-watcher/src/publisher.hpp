#pragma once
// Publishes StoreEvents to Kafka keyed by user and reports once every one of them is durably there
// (acks=all), which is when a hook may be answered or reconcile state may advance.

#include "metrics.hpp"

#include <pimap/events.pb.h>
#include <pimap/kafka/producer.hpp>

#include <functional>
#include <string>
#include <vector>

namespace pimap::store_watcher {

class Publisher {
 public:
  // `metrics` may be null (tests).
  Publisher(kafka::Producer& producer, std::string topic, Metrics* metrics)
      : producer_(producer), topic_(std::move(topic)), metrics_(metrics) {}

  // `done` runs exactly once: with ok when all events were delivered, else with the first error.
  // It runs on the producer's delivery thread, or inline when nothing could be enqueued / no events.
  using Done = std::function<void(const kafka::Error&)>;
  void publish(std::vector<pimap::v1::StoreEvent> events, Done done);

  const std::string& topic() const { return topic_; }

 private:
  kafka::Producer& producer_;
  std::string topic_;
  Metrics* metrics_;
};

}  // namespace pimap::store_watcher
