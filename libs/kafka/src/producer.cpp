#include <pimap/kafka/producer.hpp>

#include "client_common.hpp"

#include <stop_token>
#include <thread>

namespace pimap::kafka {

namespace {

using Clock = std::chrono::steady_clock;

struct Pending {
  Producer::DeliveryCallback callback;
  Clock::time_point started;
};

class ProducerImpl final : public Producer, private RdKafka::DeliveryReportCb {
 public:
  using Producer::produce;

  explicit ProducerImpl(ProducerOptions options)
      : options_(std::move(options)), events_(options_.log) {}

  Error init() {
    auto conf = detail::make_conf(
        options_, {
                      {"enable.idempotence", "true"},
                      {"acks", "all"},
                      {"linger.ms", std::to_string(options_.linger.count())},
                      {"message.timeout.ms", std::to_string(options_.delivery_timeout.count())},
                      {"queue.buffering.max.messages", std::to_string(options_.max_queued_messages)},
                  });
    if (!conf.ok()) return conf.error();
    std::string err;
    if (conf.value()->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), err) !=
            RdKafka::Conf::CONF_OK ||
        conf.value()->set("event_cb", static_cast<RdKafka::EventCb*>(&events_), err) !=
            RdKafka::Conf::CONF_OK)
      return Error::make(ErrorKind::config, "kafka producer callbacks: " + err);
    rk_.reset(RdKafka::Producer::create(conf.value().get(), err));
    if (!rk_) return Error::make(ErrorKind::config, "kafka producer: " + err);
    events_.set_handle(rk_.get());
    poller_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) rk_->poll(50);
    });
    return {};
  }

  ~ProducerImpl() override {
    if (!rk_) return;
    poller_.request_stop();
    if (poller_.joinable()) poller_.join();
    rk_->flush(static_cast<int>(options_.close_timeout.count()));
    // Whatever is still queued gets a "purged" report, so every callback runs exactly once.
    rk_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    while (rk_->outq_len() > 0 && Clock::now() < deadline) rk_->poll(20);
    rk_->poll(0);
  }

  Error produce(const Record& record, DeliveryCallback on_delivery) override {
    if (auto f = events_.fatal()) {
      counters_.enqueue_failed.fetch_add(1, std::memory_order_relaxed);
      return *f;
    }
    auto pending = std::make_unique<Pending>(Pending{std::move(on_delivery), Clock::now()});
    const std::int32_t partition = record.partition.value_or(RdKafka::Topic::PARTITION_UA);
    auto code = rk_->produce(std::string(record.topic), partition, RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(record.value.data()), record.value.size(),
                             record.key.empty() ? nullptr : record.key.data(), record.key.size(),
                             0, pending.get());
    if (code != RdKafka::ERR_NO_ERROR) {
      counters_.enqueue_failed.fetch_add(1, std::memory_order_relaxed);
      return from_rdkafka(code, "kafka produce to '" + std::string(record.topic) + "'");
    }
    pending.release();  // owned by librdkafka until dr_cb
    counters_.enqueued.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  Error flush(std::chrono::milliseconds timeout) override {
    return from_rdkafka(rk_->flush(static_cast<int>(timeout.count())), "kafka flush");
  }

  Result<int> check_topic(const std::string& topic, std::chrono::milliseconds timeout) override {
    std::string err;
    std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(rk_.get(), topic, nullptr, err));
    if (!t) return Error::make(ErrorKind::config, "kafka topic '" + topic + "': " + err);
    RdKafka::Metadata* raw = nullptr;
    auto code = rk_->metadata(false, t.get(), &raw, static_cast<int>(timeout.count()));
    std::unique_ptr<RdKafka::Metadata> md(raw);
    if (code != RdKafka::ERR_NO_ERROR) return from_rdkafka(code, "kafka metadata for '" + topic + "'");
    for (const auto* tm : *md->topics()) {
      if (tm->topic() != topic) continue;
      if (tm->err() != RdKafka::ERR_NO_ERROR)
        return from_rdkafka(tm->err(), "kafka topic '" + topic + "'");
      return static_cast<int>(tm->partitions()->size());
    }
    return Error::make(ErrorKind::broker, "kafka topic '" + topic + "': not in metadata");
  }

  std::optional<Error> fatal_error() const override { return events_.fatal(); }
  const ProducerCounters& counters() const noexcept override { return counters_; }

 private:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(message.msg_opaque()));
    DeliveryReport report;
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      report.error = from_rdkafka(message.err(), "kafka delivery");
      counters_.failed.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.delivered.fetch_add(1, std::memory_order_relaxed);
    }
    report.topic = message.topic_name();
    report.partition = message.partition();
    report.offset = message.offset();
    if (!pending) return;
    report.latency = Clock::now() - pending->started;
    if (!pending->callback) return;
    try {
      pending->callback(report);
    } catch (...) {
      // A throwing callback must not unwind into librdkafka's C code.
    }
  }

  ProducerOptions options_;
  detail::EventRouter events_;
  ProducerCounters counters_;
  std::unique_ptr<RdKafka::Producer> rk_;
  std::jthread poller_;
};

}  // namespace

Result<std::unique_ptr<Producer>> Producer::create(ProducerOptions options) {
  auto impl = std::make_unique<ProducerImpl>(std::move(options));
  if (auto e = impl->init(); !e.ok()) return e;
  return std::unique_ptr<Producer>(std::move(impl));
}

std::future<DeliveryReport> Producer::produce(const Record& record) {
  auto promise = std::make_shared<std::promise<DeliveryReport>>();
  auto future = promise->get_future();
  auto e = produce(record, [promise](const DeliveryReport& r) { promise->set_value(r); });
  if (!e.ok()) {
    DeliveryReport r;
    r.error = std::move(e);
    r.topic = std::string(record.topic);
    promise->set_value(std::move(r));
  }
  return future;
}

}  // namespace pimap::kafka
