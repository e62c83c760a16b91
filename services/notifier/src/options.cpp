#include "options.hpp"

#include <stdexcept>

namespace pimap::notifier {

using namespace std::chrono_literals;

kit::Schema schema() {
  kit::Schema s;
  s.string_list("kafka.brokers", "Kafka bootstrap brokers").def({"127.0.0.1:9092"});
  s.string("kafka.topic", "Topic of StoreEvents, keyed by user").def("pimap.events");
  s.string("kafka.group", "Consumer group shared by every notifier replica").def("pimap-notifier");
  s.duration("kafka.session_timeout", "Consumer-group session timeout: a dead replica's partitions move after it")
      .def(6s)
      .range(1s, 300s);
  s.integer("kafka.batch_max", "Records processed between two offset commits").def(500).range(1, 100000);
  s.string("redis.address", "Redis: host:port or redis://[:password@]host:port[/db]").def("127.0.0.1:6379");
  s.string("redis.password", "Redis AUTH password (overrides one in redis.address)").optional().secret();
  s.integer("redis.pool_size", "Redis connections").def(4).range(1, 256);
  s.duration("redis.command_timeout_seconds", "Longest wait for a Redis reply").def(2s).range(10ms, 60s);
  s.string("redis.key_prefix", "Prefix of every pimap key (as the session service's)").def("pimap");
  s.integer("queue.max_events", "Per-device queue bound; must equal the session service's").def(10000).range(1, 1000000);
  s.string("session.grpc", "Session service target (rendered by the chart; not used: queues and wake-ups go "
                           "through Redis)")
      .optional();
  s.string("sms.sendsms_url", "Kannel sendsms URL (http://host:port/cgi-bin/sendsms); unset = no SMS wake-ups")
      .optional();
  s.string("sms.username", "Kannel sendsms user").optional();
  s.string("sms.password", "Kannel sendsms password").optional().secret();
  s.string("sms.from", "Sender of wake-up SMS").def("PIMAP");
  s.string("wap.ppg_url", "Kannel PPG PAP URL (http://host:port/wappush); unset = no WAP Push wake-ups").optional();
  s.string("wap.ppg_host", "Host part of WAP Push addresses (WAPPUSH=+<msisdn>/TYPE=PLMN@<ppg_host>)").optional();
  s.duration("wakeup.min_interval_seconds", "At most one outstanding wake-up per device this long (or until it "
                                            "reconnects)")
      .def(60s)
      .range(1s, 24h);
  s.integer("wakeup.max_per_hour", "Wake-ups per device and hour").def(20).range(1, 3600);
  s.string("wakeup.mail_domain", "Domain added to store users without one in the EMN mailbox (mailat:user@domain)")
      .optional();
  s.duration("wakeup.gateway_timeout_seconds", "One HTTP exchange with a gateway").def(5s).range(100ms, 120s);
  s.integer("wakeup.max_attempts", "Tries per wake-up while the gateway fails transiently").def(6).range(1, 100);
  s.duration("wakeup.max_backoff_seconds", "Longest pause between two tries (from 0.5 s, doubling)")
      .def(30s)
      .range(10ms, 1h);
  return s;
}

Options from_config(const kit::Config& cfg) {
  Options o;
  for (const auto& b : cfg.list("kafka.brokers")) o.brokers += (o.brokers.empty() ? "" : ",") + b;
  o.topic = cfg.string("kafka.topic");
  o.group = cfg.string("kafka.group");
  o.session_timeout = cfg.duration("kafka.session_timeout");
  o.batch_max = static_cast<std::size_t>(cfg.integer("kafka.batch_max"));
  o.key_prefix = cfg.string("redis.key_prefix");
  o.queue.max_events = static_cast<std::size_t>(cfg.integer("queue.max_events"));
  o.wakeup.min_interval = cfg.duration("wakeup.min_interval_seconds");
  o.wakeup.hourly_cap = static_cast<std::size_t>(cfg.integer("wakeup.max_per_hour"));
  if (cfg.has("wakeup.mail_domain")) o.mail_domain = cfg.string("wakeup.mail_domain");
  o.delivery.timeout = cfg.duration("wakeup.gateway_timeout_seconds");
  o.delivery.max_attempts = static_cast<int>(cfg.integer("wakeup.max_attempts"));
  o.delivery.max_backoff = cfg.duration("wakeup.max_backoff_seconds");
  if (o.delivery.initial_backoff > o.delivery.max_backoff) o.delivery.initial_backoff = o.delivery.max_backoff;

  if (cfg.has("sms.sendsms_url")) {
    if (!cfg.has("sms.username") || !cfg.has("sms.password"))
      throw std::runtime_error("config: sms.sendsms_url is set but sms.username or sms.password is not");
    o.sms = SmsGatewayOptions{cfg.string("sms.sendsms_url"), cfg.string("sms.username"), cfg.string("sms.password"),
                              cfg.string("sms.from")};
  }
  if (cfg.has("wap.ppg_url")) {
    if (!cfg.has("wap.ppg_host")) throw std::runtime_error("config: wap.ppg_url is set but wap.ppg_host is not");
    o.wap = WapGatewayOptions{cfg.string("wap.ppg_url"), cfg.string("wap.ppg_host")};
  }
  return o;
}

}  // namespace pimap::notifier
