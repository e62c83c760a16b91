#include "publisher.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

namespace pimap::store_watcher {

namespace {

struct Batch {
  std::atomic<std::size_t> outstanding;
  std::mutex mu;
  kafka::Error first_error;
  Publisher::Done done;

  void finish_one(const kafka::Error& e) {
    if (!e.ok()) {
      std::lock_guard lock(mu);
      if (first_error.ok()) first_error = e;
    }
    if (outstanding.fetch_sub(1) == 1) {
      kafka::Error result;
      {
        std::lock_guard lock(mu);
        result = first_error;
      }
      done(result);
    }
  }
};

}  // namespace

void Publisher::publish(std::vector<pimap::v1::StoreEvent> events, Done done) {
  if (events.empty()) {
    done(kafka::Error{});
    return;
  }
  auto batch = std::make_shared<Batch>();
  batch->outstanding = events.size();
  batch->done = std::move(done);
  for (const auto& event : events) {
    std::string value;
    if (!event.SerializeToString(&value)) {
      batch->finish_one(kafka::Error::make(kafka::ErrorKind::config, "cannot serialize StoreEvent"));
      continue;
    }
    std::string source = event.source();
    auto e = producer_.produce(
        kafka::Record{topic_, event.user(), value, {}},
        [batch, metrics = metrics_, source](const kafka::DeliveryReport& r) {
          if (metrics != nullptr) {
            if (r.error.ok())
              metrics->published(source, std::chrono::duration<double>(r.latency).count());
            else
              metrics->publish_failed(source);
          }
          batch->finish_one(r.error);
        });
    if (!e.ok()) {
      if (metrics_ != nullptr) metrics_->publish_failed(source);
      batch->finish_one(e);
    }
  }
}

}  // namespace pimap::store_watcher
