// pimap-store-watcher: turns store changes into StoreEvents in Kafka (docs/store-watcher.md).

#include "control_loop.hpp"
#include "imap_store_view.hpp"
#include "intake.hpp"
#include "intake_server.hpp"
#include "metrics.hpp"
#include "newly_watched.hpp"
#include "imap_watcher.hpp"
#include "ownership.hpp"
#include "publisher.hpp"
#include "reconciler.hpp"
#include "redis_state.hpp"

#include <pimap/kafka/admin.hpp>
#include <pimap/kafka/consumer.hpp>
#include <pimap/kafka/producer.hpp>
#include <pimap/kit/service.hpp>

#include <chrono>
#include <future>
#include <thread>

namespace sw = pimap::store_watcher;
namespace kafka = pimap::kafka;
namespace kit = pimap::kit;
using namespace std::chrono_literals;

namespace {

std::int64_t unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

kit::Schema schema() {
  kit::Schema s;
  s.host_port("intake.listen", "push_notification HTTP intake (Dovecot OX / Lua driver)").def("127.0.0.1:8080");
  s.string_list("kafka.brokers", "Kafka bootstrap brokers").def({"127.0.0.1:9092"});
  s.string("kafka.topic", "Topic for StoreEvents, keyed by user").def("pimap.events");
  s.string("kafka.control_topic", "Shard/ownership and reconcile-request topic").def("pimap.store-watcher.control");
  s.integer("kafka.control_partitions", "User shards (partitions of the control topic, at creation)").def(32).range(std::int64_t{1}, std::int64_t{4096});
  s.integer("kafka.control_replication", "Replication factor of the control topic (at creation)").def(1).range(std::int64_t{1}, std::int64_t{10});
  s.duration("kafka.session_timeout", "Consumer-group session timeout: a dead replica's shards move after it")
      .def(6s).range(1s, 300s);
  s.duration("kafka.delivery_timeout", "Bound for one event to reach Kafka (hook answered 503 after it)")
      .def(10s).range(1s, 300s);
  s.string("store.host", "IMAP store host (IMAPS)").def("127.0.0.1");
  s.integer("store.port", "IMAP store port (IMAPS)").def(993).range(std::int64_t{1}, std::int64_t{65535});
  s.host_port("store.imap", "Store plain IMAP host:port, used with STARTTLS (overrides store.host/port)")
      .optional();
  s.string("store.ca_file", "CA bundle to verify the store's certificate").optional();
  s.string("store.master_user", "Dovecot master user (logins are <user>*<master>)").def("pimap-master");
  s.string("store.master_password", "Dovecot master password").secret().optional();
  s.host_port("redis.address", "Redis: watched users, last published MODSEQ per mailbox").def("127.0.0.1:6379");
  s.enumeration("watch.mode", {"push_notification", "idle", "notify"}, "How store changes are observed")
      .def("push_notification");
  s.duration("reconcile.interval", "Periodic reconcile of every owned watched user").def(5min).range(1s, 24h);
  s.duration("watch.users_refresh",
             "How often the owned watched users are re-read (notify/idle: their connections; push_notification: "
             "new ones get a reconcile baseline at once)")
      .def(1s).range(1s, 1h);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  kit::Service svc("store-watcher", argc, argv, schema());
  const auto& cfg = svc.config();
  const auto& log = svc.log();

  const std::string mode = cfg.string("watch.mode");

  sw::Metrics metrics(*kit::process_registry());
  auto kafka_log = [&log](int level, const std::string& msg) {
    if (level <= 3)
      log.error(msg, {{"component", "kafka"}});
    else if (level == 4)
      log.warn(msg, {{"component", "kafka"}});
    else
      log.debug(msg, {{"component", "kafka"}});
  };

  const std::string brokers = join(cfg.list("kafka.brokers"));
  const std::string topic = cfg.string("kafka.topic");
  const std::string control_topic = cfg.string("kafka.control_topic");

  kafka::ProducerOptions po;
  po.brokers = brokers;
  po.client_id = "pimap-store-watcher";
  po.log = kafka_log;
  po.delivery_timeout = cfg.duration("kafka.delivery_timeout");
  auto producer_r = kafka::Producer::create(po);
  if (!producer_r.ok()) {
    log.error("kafka producer", {{"error", producer_r.error().message}});
    return 2;
  }
  auto producer = std::move(producer_r).value();

  kafka::CommonOptions admin;
  admin.brokers = brokers;
  admin.log = kafka_log;
  int partitions = 0;
  for (int attempt = 0; partitions == 0; ++attempt) {  // Kafka may still be starting
    auto n = kafka::ensure_topic(admin, control_topic, static_cast<int>(cfg.integer("kafka.control_partitions")),
                                 static_cast<int>(cfg.integer("kafka.control_replication")), 10s);
    if (n.ok()) {
      partitions = n.value();
    } else if (!n.error().retriable() || attempt >= 5) {
      log.error("kafka control topic", {{"topic", control_topic}, {"error", n.error().message}});
      return 1;
    }
  }

  sw::Ownership ownership(partitions);
  sw::RedisState redis(cfg.host_port("redis.address").to_string());
  sw::ImapStoreOptions so;
  if (cfg.has("store.imap")) {
    so.host = cfg.host_port("store.imap").host;
    so.port = cfg.host_port("store.imap").port;
    so.implicit_tls = false;
  } else {
    so.host = cfg.string("store.host");
    so.port = static_cast<std::uint16_t>(cfg.integer("store.port"));
  }
  if (cfg.has("store.ca_file")) so.ca_file = cfg.string("store.ca_file");
  so.master_user = cfg.string("store.master_user");
  if (cfg.has("store.master_password"))
    so.master_password = cfg.string("store.master_password");
  else
    log.warn("store.master_password is not set: reconcile cannot log in to the store");
  sw::ImapStoreView store(so);
  sw::Publisher publisher(*producer, topic, &metrics);
  sw::Reconciler reconciler(
      store, redis,
      [&publisher](std::vector<pimap::v1::StoreEvent> events) {
        std::promise<kafka::Error> done;
        auto f = done.get_future();
        publisher.publish(std::move(events), [&done](const kafka::Error& e) { done.set_value(e); });
        return f.get();
      },
      unix_us);

  kafka::ConsumerOptions co;
  co.brokers = brokers;
  co.client_id = "pimap-store-watcher";
  co.group_id = "pimap-store-watcher";
  co.topics = {control_topic};
  co.session_timeout = cfg.duration("kafka.session_timeout");
  co.auto_offset_reset = "latest";  // a request older than the group is covered by the catch-up reconcile
  co.log = kafka_log;
  co.on_assigned = [&](const std::vector<kafka::TopicPartition>& tps) {
    std::vector<std::int32_t> shards;
    for (const auto& tp : tps) shards.push_back(tp.partition);
    ownership.assign(shards);
    metrics.set_owned_partitions(static_cast<double>(ownership.owned().size()));
    log.info("shards assigned", {{"count", shards.size()}});
  };
  co.on_revoked = [&](const std::vector<kafka::TopicPartition>& tps) {
    std::vector<std::int32_t> shards;
    for (const auto& tp : tps) shards.push_back(tp.partition);
    ownership.revoke(shards);
    metrics.set_owned_partitions(static_cast<double>(ownership.owned().size()));
    log.info("shards revoked", {{"count", shards.size()}});
  };
  auto consumer_r = kafka::Consumer::create(co);
  if (!consumer_r.ok()) {
    log.error("kafka consumer", {{"error", consumer_r.error().message}});
    return 2;
  }
  auto consumer = std::move(consumer_r).value();

  sw::ControlLoop::Options lo;
  lo.control_topic = control_topic;
  lo.reconcile_interval = cfg.duration("reconcile.interval");
  lo.watched_users = [&redis] { return redis.watched_users(); };
  lo.on_watched = [&metrics](std::size_t n) { metrics.set_watched_users(static_cast<double>(n)); };

  lo.on_report = [&](const std::string& user, const sw::Reconciler::Report& r) {
    metrics.reconcile_run(r.ok, r.changes);
    if (!r.ok)
      log.warn("reconcile failed", {{"user", user}, {"error", r.error}});
    else if (r.changes > 0)
      log.info("reconcile published missed changes", {{"user", user}, {"changes", r.changes}});
    else
      log.debug("reconcile: nothing missed", {{"user", user}, {"baseline", r.baseline}});
  };
  std::unique_ptr<sw::ImapWatcher> notify;
  if (mode == "notify" || mode == "idle") {
    notify = std::make_unique<sw::ImapWatcher>(
        mode == "notify" ? sw::ImapWatcher::Mode::notify : sw::ImapWatcher::Mode::idle, so,
        [&producer, &log, control_topic, partitions, mode](const std::string& user, const std::vector<std::string>& boxes) {
          // Through the control topic like a hook's request: the shard's owner (normally us) runs it.
          sw::ControlLoop::request(*producer, control_topic, partitions, user, boxes, [&log, user, mode](const kafka::Error& e) {
            if (!e.ok()) log.warn("watch: reconcile request not produced", {{"mode", mode}, {"user", user}, {"error", e.message}});
          });
        });
    lo.users_refresh = cfg.duration("watch.users_refresh");
    lo.on_owned_users = [&notify](std::vector<std::string> users) { notify->set_users(std::move(users)); };
    log.info(mode == "notify" ? "watch.mode notify: one IMAP NOTIFY connection per owned watched user"
                              : "watch.mode idle: one IMAP IDLE connection (INBOX) per owned watched user; "
                                "other folders by the periodic reconcile");
  } else {
    // Hooks report changes, but a flag change is a reconcile, and a user's first reconcile only
    // records a baseline: give newly watched users one before their device can miss anything.
    lo.users_refresh = cfg.duration("watch.users_refresh");
    lo.on_owned_users = [&producer, &log, control_topic, partitions,
                         fresh = std::make_shared<sw::NewlyWatched>()](std::vector<std::string> users) {
      for (const auto& user : fresh->update(users))
        sw::ControlLoop::request(*producer, control_topic, partitions, user, {}, [&log, user](const kafka::Error& e) {
          if (!e.ok()) log.warn("baseline request for a new watched user not produced", {{"user", user}, {"error", e.message}});
        });
    };
  }
  lo.on_pending = [&metrics, &notify](std::size_t n) {  // every turn of the control loop
    metrics.set_reconcile_pending(static_cast<double>(n));
    if (notify) metrics.set_notify_connections(static_cast<double>(notify->active()));
  };
  sw::ControlLoop loop(lo, *consumer, ownership, reconciler);

  sw::Intake intake(
      publisher,
      [&producer, control_topic, partitions](const std::string& user, const std::vector<std::string>& mailboxes,
                                             std::function<void(const kafka::Error&)> done) {
        sw::ControlLoop::request(*producer, control_topic, partitions, user, mailboxes, std::move(done));
      },
      &metrics, unix_us);
  intake.on_rejected([&log](std::string_view kind, const std::string& user, const std::string& reason,
                            const std::vector<std::string>& reconcile) {
    std::string mailboxes;
    for (const auto& m : reconcile) mailboxes += (mailboxes.empty() ? "" : ",") + m;
    log.warn("hook rejected (400)", {{"driver", std::string(kind)}, {"user", user}, {"reason", reason},
                                     {"reconcile_requested", mailboxes}});
  });
  sw::IntakeServer server(svc.io(), [&intake](std::string_view method, std::string_view target,
                                               std::string_view body, sw::IntakeServer::Respond respond) {
    intake.handle(method, target, body, std::move(respond));
  });
  const auto& listen = cfg.host_port("intake.listen");
  if (auto e = server.listen(listen.host, listen.port); !e.empty()) {
    log.error("intake", {{"error", e}});
    return 1;
  }
  log.info("intake listening", {{"address", listen.to_string()}, {"control_partitions", partitions}});

  svc.readiness().add_check("kafka", [&loop, &producer] { return loop.kafka_ok() && !producer->fatal_error(); });

  std::jthread control([&loop](std::stop_token stop) { loop.run(stop); });

  svc.lifecycle().on_stop_accepting("intake", [&server] { server.stop_accepting(); });
  svc.lifecycle().on_drain("intake", [&server, &producer](kit::DrainToken token) {
    // Hooks in flight are answered once Kafka confirms; wait for them on a helper thread.
    std::thread([&server, &producer, token] {
      while (server.in_flight() > 0 && std::chrono::steady_clock::now() < token.deadline())
        std::this_thread::sleep_for(20ms);
      (void)producer->flush(100ms);
      token.done();
    }).detach();
  });
  svc.lifecycle().on_drain("control", [&control](kit::DrainToken token) {
    control.request_stop();
    std::thread([&control, token] {
      if (control.joinable()) control.join();
      token.done();
    }).detach();
  });

  const int code = svc.run();
  control.request_stop();
  if (control.joinable()) control.join();
  notify.reset();
  return code;
}
