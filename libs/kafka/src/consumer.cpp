#include <pimap/kafka/consumer.hpp>

#include "client_common.hpp"

#include <algorithm>

namespace pimap::kafka {

namespace {

// Owns a vector of RdKafka::TopicPartition* for the duration of a call.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  PartitionList() = default;
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  ~PartitionList() { RdKafka::TopicPartition::destroy(items); }
};

std::vector<TopicPartition> to_list(const std::vector<RdKafka::TopicPartition*>& parts) {
  std::vector<TopicPartition> out;
  out.reserve(parts.size());
  for (const auto* p : parts) out.push_back({p->topic(), p->partition()});
  std::sort(out.begin(), out.end());
  return out;
}

class ConsumerImpl final : public Consumer, private RdKafka::RebalanceCb {
 public:
  explicit ConsumerImpl(ConsumerOptions options)
      : options_(std::move(options)), events_(options_.log) {}

  Error init() {
    if (options_.group_id.empty()) return Error::make(ErrorKind::config, "kafka consumer: no group id");
    if (options_.topics.empty()) return Error::make(ErrorKind::config, "kafka consumer: no topics");
    const auto session = options_.session_timeout.count();
    auto conf = detail::make_conf(
        options_, {
                      {"group.id", options_.group_id},
                      {"enable.auto.commit", "false"},
                      {"enable.auto.offset.store", "false"},
                      {"enable.partition.eof", "false"},
                      {"auto.offset.reset", options_.auto_offset_reset},
                      {"session.timeout.ms", std::to_string(session)},
                      {"heartbeat.interval.ms", std::to_string(std::max<long>(100, session / 3))},
                  });
    if (!conf.ok()) return conf.error();
    std::string err;
    if (conf.value()->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), err) !=
            RdKafka::Conf::CONF_OK ||
        conf.value()->set("event_cb", static_cast<RdKafka::EventCb*>(&events_), err) !=
            RdKafka::Conf::CONF_OK)
      return Error::make(ErrorKind::config, "kafka consumer callbacks: " + err);
    rk_.reset(RdKafka::KafkaConsumer::create(conf.value().get(), err));
    if (!rk_) return Error::make(ErrorKind::config, "kafka consumer: " + err);
    events_.set_handle(rk_.get());
    if (auto code = rk_->subscribe(options_.topics); code != RdKafka::ERR_NO_ERROR)
      return from_rdkafka(code, "kafka subscribe");
    return {};
  }

  ~ConsumerImpl() override {
    if (rk_) close();
  }

  Result<std::optional<Message>> poll(std::chrono::milliseconds timeout) override {
    if (closed_) return Error::make(ErrorKind::closed, "kafka consumer: closed");
    std::unique_ptr<RdKafka::Message> m(rk_->consume(static_cast<int>(timeout.count())));
    switch (m->err()) {
      case RdKafka::ERR_NO_ERROR: {
        Message out;
        out.topic = m->topic_name();
        out.partition = m->partition();
        out.offset = m->offset();
        if (m->key() != nullptr) out.key = *m->key();
        if (m->payload() != nullptr) out.value.assign(static_cast<const char*>(m->payload()), m->len());
        out.timestamp_ms = m->timestamp().timestamp;
        return std::optional<Message>(std::move(out));
      }
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        return std::optional<Message>();
      default:
        return from_rdkafka(m->err(), "kafka consume: " + m->errstr());
    }
  }

  Error commit(const Message& message) override {
    PartitionOffset po{{message.topic, message.partition}, message.offset + 1};
    return commit(std::span<const PartitionOffset>(&po, 1));
  }

  Error commit(std::span<const PartitionOffset> offsets) override {
    if (closed_) return Error::make(ErrorKind::closed, "kafka consumer: closed");
    if (offsets.empty()) return {};
    PartitionList list;
    for (const auto& o : offsets)
      list.items.push_back(RdKafka::TopicPartition::create(o.tp.topic, o.tp.partition, o.offset));
    if (auto code = rk_->commitSync(list.items); code != RdKafka::ERR_NO_ERROR)
      return from_rdkafka(code, "kafka commit");
    for (const auto* p : list.items)
      if (p->err() != RdKafka::ERR_NO_ERROR)
        return from_rdkafka(p->err(), "kafka commit " + p->topic() + "/" + std::to_string(p->partition()));
    return {};
  }

  Result<std::vector<PartitionOffset>> committed(std::span<const TopicPartition> partitions,
                                                 std::chrono::milliseconds timeout) override {
    if (closed_) return Error::make(ErrorKind::closed, "kafka consumer: closed");
    PartitionList list;
    for (const auto& tp : partitions)
      list.items.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition));
    if (auto code = rk_->committed(list.items, static_cast<int>(timeout.count()));
        code != RdKafka::ERR_NO_ERROR)
      return from_rdkafka(code, "kafka committed");
    std::vector<PartitionOffset> out;
    for (const auto* p : list.items) out.push_back({{p->topic(), p->partition()}, p->offset()});
    return out;
  }

  std::vector<TopicPartition> assignment() const override { return assigned_; }

  Error close() override {
    if (closed_) return {};
    closed_ = true;
    auto code = rk_->close();  // runs the revocation callback, leaves the group
    assigned_.clear();
    return from_rdkafka(code, "kafka consumer close");
  }

 private:
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    auto list = to_list(parts);
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      if (cooperative) {
        delete consumer->incremental_assign(parts);
      } else {
        consumer->assign(parts);
        assigned_.clear();
      }
      for (auto& tp : list)
        if (!std::binary_search(assigned_.begin(), assigned_.end(), tp))
          assigned_.insert(std::lower_bound(assigned_.begin(), assigned_.end(), tp), tp);
      if (options_.on_assigned) options_.on_assigned(list);
      return;
    }
    if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      if (options_.on_revoked) options_.on_revoked(list);
    } else if (options_.log) {
      options_.log(3, "kafka rebalance error: " + RdKafka::err2str(err));
    }
    if (cooperative && err == RdKafka::ERR__REVOKE_PARTITIONS) {
      delete consumer->incremental_unassign(parts);
      std::erase_if(assigned_, [&](const TopicPartition& tp) {
        return std::binary_search(list.begin(), list.end(), tp);
      });
    } else {
      consumer->unassign();
      assigned_.clear();
    }
  }

  ConsumerOptions options_;
  detail::EventRouter events_;
  std::unique_ptr<RdKafka::KafkaConsumer> rk_;
  std::vector<TopicPartition> assigned_;
  bool closed_ = false;
};

}  // namespace

Result<std::unique_ptr<Consumer>> Consumer::create(ConsumerOptions options) {
  auto impl = std::make_unique<ConsumerImpl>(std::move(options));
  if (auto e = impl->init(); !e.ok()) return e;
  return std::unique_ptr<Consumer>(std::move(impl));
}

}  // namespace pimap::kafka
