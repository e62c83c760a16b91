#include <pimap/kafka/admin.hpp>

#include "client_common.hpp"

#include <librdkafka/rdkafka.h>

namespace pimap::kafka {

namespace {

template <class T, void (*Destroy)(T*)>
struct CDeleter {
  void operator()(T* p) const { Destroy(p); }
};
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, CDeleter<rd_kafka_NewTopic_t, rd_kafka_NewTopic_destroy>>;
using AdminOptionsPtr =
    std::unique_ptr<rd_kafka_AdminOptions_t, CDeleter<rd_kafka_AdminOptions_t, rd_kafka_AdminOptions_destroy>>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, CDeleter<rd_kafka_queue_t, rd_kafka_queue_destroy>>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, CDeleter<rd_kafka_event_t, rd_kafka_event_destroy>>;

}  // namespace

namespace {

// Partition count from metadata; ErrorKind::broker with UNKNOWN_TOPIC_OR_PART when it does not exist.
Result<int> partition_count(RdKafka::Producer& handle, const std::string& topic, int timeout_ms) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(&handle, topic, nullptr, err));
  if (!t) return Error::make(ErrorKind::config, "kafka topic '" + topic + "': " + err);
  RdKafka::Metadata* raw = nullptr;
  auto code = handle.metadata(false, t.get(), &raw, timeout_ms);
  std::unique_ptr<RdKafka::Metadata> md(raw);
  if (code != RdKafka::ERR_NO_ERROR) return from_rdkafka(code, "kafka metadata for '" + topic + "'");
  for (const auto* tm : *md->topics()) {
    if (tm->topic() != topic) continue;
    if (tm->err() != RdKafka::ERR_NO_ERROR) return from_rdkafka(tm->err(), "kafka topic '" + topic + "'");
    if (tm->partitions()->empty())
      return Error{ErrorKind::broker, RdKafka::ERR_LEADER_NOT_AVAILABLE, "kafka topic '" + topic + "': no partitions yet"};
    return static_cast<int>(tm->partitions()->size());
  }
  return Error{ErrorKind::broker, RdKafka::ERR_UNKNOWN_TOPIC_OR_PART, "kafka topic '" + topic + "': not in metadata"};
}

}  // namespace

Result<int> ensure_topic(const CommonOptions& options, const std::string& topic, int partitions,
                         int replication_factor, std::chrono::milliseconds timeout) {
  detail::EventRouter events(options.log);
  // A metadata request must not create the topic with the broker's default partition count.
  auto conf = detail::make_conf(options, {{"allow.auto.create.topics", "false"}});
  if (!conf.ok()) return conf.error();
  std::string err;
  if (conf.value()->set("event_cb", static_cast<RdKafka::EventCb*>(&events), err) != RdKafka::Conf::CONF_OK)
    return Error::make(ErrorKind::config, "kafka admin: " + err);
  std::unique_ptr<RdKafka::Producer> handle(RdKafka::Producer::create(conf.value().get(), err));
  if (!handle) return Error::make(ErrorKind::config, "kafka admin: " + err);
  rd_kafka_t* rk = handle->c_ptr();
  const int ms = static_cast<int>(timeout.count());

  auto existing = partition_count(*handle, topic, ms);
  if (existing.ok() || existing.error().rdkafka_code != RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) return existing;

  char errbuf[512];
  NewTopicPtr nt(rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, errbuf, sizeof errbuf));
  if (!nt) return Error::make(ErrorKind::config, "kafka create topic '" + topic + "': " + errbuf);
  AdminOptionsPtr opts(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_request_timeout(opts.get(), ms, errbuf, sizeof errbuf);
  rd_kafka_AdminOptions_set_operation_timeout(opts.get(), ms, errbuf, sizeof errbuf);
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_NewTopic_t* topics[] = {nt.get()};
  rd_kafka_CreateTopics(rk, topics, 1, opts.get(), queue.get());
  EventPtr ev(rd_kafka_queue_poll(queue.get(), ms + 1000));
  if (!ev) return Error::make(ErrorKind::timed_out, "kafka create topic '" + topic + "': no answer");
  if (auto code = rd_kafka_event_error(ev.get()); code != RD_KAFKA_RESP_ERR_NO_ERROR)
    return from_rdkafka(code, "kafka create topic '" + topic + "'");
  const auto* res = rd_kafka_event_CreateTopics_result(ev.get());
  std::size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &count);
  for (std::size_t i = 0; i < count; ++i) {
    auto code = rd_kafka_topic_result_error(results[i]);
    if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      return from_rdkafka(code, "kafka create topic '" + topic + "'");
  }

  // A freshly created topic can take a moment to show up in metadata (and a racing creator may
  // have chosen another partition count, which wins).
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Result<int> last = Error::make(ErrorKind::timed_out, "kafka topic '" + topic + "': not in metadata");
  do {
    last = partition_count(*handle, topic, ms);
    if (last.ok()) return last;
    rd_kafka_poll(rk, 100);
  } while (std::chrono::steady_clock::now() < deadline);
  return last;
}

}  // namespace pimap::kafka
