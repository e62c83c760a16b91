// Against the real stack (scripts/stack up; PIMAP_STACK_JSON; skipped when unset): StoreEvents
// produced to Kafka `pimap.events` reach device queues in Redis exactly once, also across a consumer
// restart that redelivers everything, and devices without a live connection get exactly one SMS or
// WAP Push wake-up, which fakesmsc (the stack's phone network) receives and the test decodes.
//
// Each test runs its own pimap-notifier processes with a fresh consumer group and Redis key prefix,
// and users and phone numbers of its own, so neither a notifier the stack started nor another test
// run sees its devices.

#include "http_client.hpp"

#include <pimap/emn/text.hpp>
#include <pimap/emn/wbxml.hpp>
#include <pimap/emn/wsp.hpp>
#include <pimap/events.pb.h>
#include <pimap/kafka/producer.hpp>
#include <pimap/redis/options.hpp>
#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/preferences.hpp>
#include <pimap/sessionstore/session_id.hpp>
#include <pimap/sessionstore/sessions.hpp>

#include <arpa/inet.h>
#include <boost/json.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace pimap::notifier {
namespace {

using namespace std::chrono_literals;
namespace ss = sessionstore;

struct Stack {
  std::string brokers, topic, redis, sendsms, sendsms_user, sendsms_password_file, ppg, fakesmsc_log, domain;
};

std::optional<Stack> load_stack() {
  const char* path = std::getenv("PIMAP_STACK_JSON");
  if (path == nullptr) return std::nullopt;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto doc = boost::json::parse(text.str()).as_object();
  auto str = [](const boost::json::value& v) { return std::string(v.as_string()); };
  const auto& k = doc.at("kannel").as_object();
  Stack s;
  s.brokers = str(doc.at("kafka"));
  s.topic = doc.contains("kafka_topics") ? str(doc.at("kafka_topics").as_object().at("events")) : "pimap.events";
  s.redis = str(doc.at("redis"));
  s.sendsms = str(k.at("sendsms"));
  s.sendsms_user = str(k.at("sendsms_username"));
  s.sendsms_password_file = str(k.at("sendsms_password_file"));
  s.ppg = str(k.at("ppg"));
  s.fakesmsc_log = str(k.at("fakesmsc_log"));
  s.domain = str(doc.at("dovecot").as_object().at("domain"));
  return s;
}

std::string random_token(std::size_t n) {
  static std::mt19937_64 rng(std::random_device{}());
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += "abcdefghijklmnopqrstuvwxyz0123456789"[rng() % 36];
  return out;
}

std::string random_msisdn() {
  static std::mt19937_64 rng(std::random_device{}());
  std::string out = "+4917";
  for (int i = 0; i < 9; ++i) out += static_cast<char>('0' + rng() % 10);
  return out;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool wait_until(const std::function<bool()>& f, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return f();
}

// One pimap-notifier process, started by fork/exec and killed by its pid.
class NotifierProcess {
 public:
  NotifierProcess(const Stack& s, const std::string& group, const std::string& prefix) {
    const int port = free_port();
    admin_ = "127.0.0.1:" + std::to_string(port);
    dir_ = "/tmp/pimap-notifier-it-" + random_token(8);
    ::mkdir(dir_.c_str(), 0700);
    config_ = dir_ + "/notifier.yaml";
    std::ofstream(config_) << "admin: {listen: \"" << admin_ << "\"}\n"
                           << "log: {level: debug}\n"
                           << "shutdown: {drain_seconds: 2}\n"
                           << "kafka: {brokers: [\"" << s.brokers << "\"], topic: \"" << s.topic << "\", group: \""
                           << group << "\"}\n"
                           << "redis: {address: \"" << s.redis << "\", key_prefix: \"" << prefix << "\"}\n"
                           << "sms: {sendsms_url: \"" << s.sendsms << "\", username: \"" << s.sendsms_user
                           << "\", password_file: \"" << s.sendsms_password_file << "\", from: \"PIMAP\"}\n"
                           << "wap: {ppg_url: \"" << s.ppg << "\", ppg_host: \"ppg." << s.domain << "\"}\n"
                           << "wakeup: {mail_domain: \"" << s.domain << "\", min_interval_seconds: 60}\n";
    log_ = dir_ + "/notifier.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execl(PIMAP_NOTIFIER_BINARY, PIMAP_NOTIFIER_BINARY, "--config", config_.c_str(), nullptr);
      ::_exit(127);
    }
  }
  ~NotifierProcess() { kill(SIGKILL); }

  bool wait_ready() {
    SocketHttpClient http(1s);
    return wait_until([&] { return http.send({"GET", "http://" + admin_ + "/readyz", {}, {}}).status == 200; }, 20s);
  }
  std::string metrics() {
    SocketHttpClient http(2s);
    return http.send({"GET", "http://" + admin_ + "/metrics", {}, {}}).body;
  }
  void kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  std::string log_text() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::string admin_, dir_, config_, log_;
  pid_t pid_ = -1;
};

// The lines fakesmsc printed for one phone number since the test began.
struct Sms {
  bool binary = false;
  std::string text;  // text SMS: the message; binary: the URL-decoded data
};

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<Sms> messages_to(const std::string& log, const std::string& msisdn) {
  std::ifstream in(log);
  std::vector<Sms> out;
  std::string line;
  while (std::getline(in, line)) {
    // "... DEBUG: Got message 3: <from to text hello>" / "<from to udh %06... data %00...>"
    const auto got = line.find("Got message ");
    if (got == std::string::npos) continue;
    const auto open = line.find(": <", got);
    if (open == std::string::npos || line.back() != '>') continue;
    std::string body = line.substr(open + 3, line.size() - open - 4);
    std::istringstream fields(body);
    std::string from, to, kind;
    fields >> from >> to >> kind;
    if (to != msisdn) continue;
    Sms sms;
    if (kind == "text") {
      sms.text = body.substr(body.find(" text ") + 6);
    } else if (kind == "udh") {
      const auto data = body.find(" data ");
      if (data == std::string::npos) continue;
      sms.binary = true;
      sms.text = url_decode(body.substr(data + 6));
    } else {
      continue;
    }
    out.push_back(std::move(sms));
  }
  return out;
}

class NotifierIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = load_stack();
    if (!s) GTEST_SKIP() << "PIMAP_STACK_JSON not set (start the stack: scripts/stack up)";
    stack = *s;
    prefix = "nit-" + random_token(8);
    user = "nit-" + random_token(8) + "@" + stack.domain;
    auto ro = redis::parse_address(stack.redis);
    ASSERT_TRUE(ro);
    pool = std::make_unique<redis::Pool>(*ro, 2);
    keys = ss::Keys(prefix);
    sessions = std::make_unique<ss::Sessions>(*pool, keys, ss::SessionConfig{});
    prefs = std::make_unique<ss::PreferenceStore>(*pool, keys);
    queue = std::make_unique<ss::EventQueue>(*pool, keys, ss::QueueConfig{});
    kafka::ProducerOptions po;
    po.brokers = stack.brokers;
    auto p = kafka::Producer::create(po);
    ASSERT_TRUE(p.ok()) << p.error().message;
    producer = std::move(p).value();
  }

  std::unique_ptr<NotifierProcess> start_notifier(const std::string& group) {
    auto n = std::make_unique<NotifierProcess>(stack, group, prefix);
    EXPECT_TRUE(n->wait_ready()) << n->log_text();
    return n;
  }

  v1::StoreEvent new_mail(std::uint32_t uid) {
    v1::StoreEvent e;
    e.set_user(user);
    e.set_mailbox("INBOX");
    e.set_uidvalidity(1);
    e.set_kind(v1::StoreEvent::MESSAGE_NEW);
    e.add_uids(uid);
    e.set_event_id(user + "/INBOX/1/" + std::to_string(uid) + "/new");
    e.set_store_time_unix_us(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
    e.set_source("integration-test");
    return e;
  }

  void produce(const v1::StoreEvent& e) {
    const auto bytes = e.SerializeAsString();
    auto report = producer->produce({stack.topic, e.user(), bytes, std::nullopt}).get();
    ASSERT_TRUE(report.error.ok()) << report.error.message;
  }

  std::vector<std::string> queued_ids(const ss::DeviceKey& d) {
    auto p = queue->read_after(d, 0, 1000);
    std::vector<std::string> ids;
    if (p)
      for (const auto& e : p->events) ids.push_back(e.event_id);
    return ids;
  }

  // A device that wants wake-ups and has a session without a live connection (it detached).
  ss::DeviceKey offline_device(const std::string& channel, const std::string& msisdn) {
    ss::DeviceKey d{user, "P" + random_token(6)};
    auto opened = sessions->open(d, {"edge-it", "https"});
    EXPECT_TRUE(opened);
    auto set = prefs->set(d, {{"PIMAP_OUTBAND_CHANNEL", channel}, {"PIMAP_OUTBAND_ADDRESS", msisdn}});
    EXPECT_TRUE(set && set->failed.outcome == ss::PrefOutcome::ok);
    EXPECT_TRUE(sessions->detach(d, opened->session.id, {}));
    return d;
  }

  Stack stack;
  std::string prefix, user;
  std::unique_ptr<redis::Pool> pool;
  ss::Keys keys;
  std::unique_ptr<ss::Sessions> sessions;
  std::unique_ptr<ss::PreferenceStore> prefs;
  std::unique_ptr<ss::EventQueue> queue;
  std::unique_ptr<kafka::Producer> producer;
};

TEST_F(NotifierIntegration, EventQueuedOnceAcrossRedeliveryAndRestart) {
  const ss::DeviceKey phone{user, "Pphone"};
  ASSERT_TRUE(sessions->open(phone, {"edge-it", "tcp"}));
  auto notifier = start_notifier("nit-group-" + random_token(6));
  const auto e1 = new_mail(1);
  produce(e1);
  ASSERT_TRUE(wait_until([&] { return !queued_ids(phone).empty(); }, 30s)) << notifier->log_text();
  produce(e1);  // the same event again (a hook and a reconcile run both saw it)

  // kill -9, then a member of a new group: it reads the topic from the start, so every record,
  // e1 twice included, is delivered again.
  notifier->kill(SIGKILL);
  auto second = start_notifier("nit-group-" + random_token(6));
  const auto e2 = new_mail(2);
  produce(e2);
  ASSERT_TRUE(wait_until([&] { return queued_ids(phone).size() >= 2; }, 30s)) << second->log_text();
  std::this_thread::sleep_for(1s);  // anything still arriving would show up now
  EXPECT_EQ(queued_ids(phone), (std::vector<std::string>{e1.event_id(), e2.event_id()}));
  const auto m = second->metrics();
  EXPECT_NE(m.find("pimap_notifier_duplicates_total"), std::string::npos);
  EXPECT_EQ(m.find("pimap_notifier_duplicates_total 0"), std::string::npos) << "the redelivery was not seen";
}

TEST_F(NotifierIntegration, WapPushWakeUpIsOneBinarySmsCarryingOurEmn) {
  const auto msisdn = random_msisdn();
  const auto device = offline_device("WAP_PUSH", msisdn);
  auto notifier = start_notifier("nit-group-" + random_token(6));
  const auto e = new_mail(1);
  produce(e);
  ASSERT_TRUE(wait_until([&] { return !messages_to(stack.fakesmsc_log, msisdn).empty(); }, 30s))
      << notifier->log_text();
  std::this_thread::sleep_for(2s);
  const auto sms = messages_to(stack.fakesmsc_log, msisdn);
  ASSERT_EQ(sms.size(), 1u);
  ASSERT_TRUE(sms[0].binary);
  std::string error;
  auto push = emn::parse_wsp_push(sms[0].text, &error);
  ASSERT_TRUE(push) << error;
  // Kannel 1.4.5 writes the content type as text (its WSP table has no code for EMN).
  EXPECT_TRUE(push->content_type_code == emn::kEmnWbxmlContentType ||
              push->content_type_text == "application/vnd.wap.emn+wbxml")
      << push->content_type_code << " " << push->content_type_text;
  EXPECT_NE(push->headers.find("\xAF\x89"), std::string::npos);  // X-Wap-Application-Id: emn.ua
  auto decoded = emn::decode_wbxml(push->body, &error);
  ASSERT_TRUE(decoded) << error;
  EXPECT_EQ(decoded->mailbox, "mailat:" + user);
  EXPECT_EQ(decoded->timestamp, std::chrono::floor<std::chrono::seconds>(std::chrono::sys_time<std::chrono::microseconds>(
                                    std::chrono::microseconds(e.store_time_unix_us()))));
  EXPECT_EQ(queued_ids(device), std::vector<std::string>{e.event_id()});  // and in band when it comes back
}

TEST_F(NotifierIntegration, TenMailsInABurstWakeOnce) {
  const auto msisdn = random_msisdn();
  const auto device = offline_device("WAP_PUSH", msisdn);
  auto notifier = start_notifier("nit-group-" + random_token(6));
  for (std::uint32_t uid = 1; uid <= 10; ++uid) produce(new_mail(uid));
  ASSERT_TRUE(wait_until([&] { return queued_ids(device).size() == 10; }, 30s)) << notifier->log_text();
  ASSERT_TRUE(wait_until([&] { return !messages_to(stack.fakesmsc_log, msisdn).empty(); }, 15s));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(messages_to(stack.fakesmsc_log, msisdn).size(), 1u);
  const auto m = notifier->metrics();
  EXPECT_NE(m.find("pimap_notifier_wakeups_total{channel=\"wap_push\",outcome=\"coalesced\"} 9"), std::string::npos)
      << m;
}

TEST_F(NotifierIntegration, SmsWakeUpIsOneTextSmsWithTheEmnText) {
  const auto msisdn = random_msisdn();
  offline_device("SMS", msisdn);
  auto notifier = start_notifier("nit-group-" + random_token(6));
  const auto e = new_mail(1);
  produce(e);
  ASSERT_TRUE(wait_until([&] { return !messages_to(stack.fakesmsc_log, msisdn).empty(); }, 30s))
      << notifier->log_text();
  std::this_thread::sleep_for(2s);
  const auto sms = messages_to(stack.fakesmsc_log, msisdn);
  ASSERT_EQ(sms.size(), 1u);
  ASSERT_FALSE(sms[0].binary);
  std::string error;
  auto n = emn::parse_text(sms[0].text, &error);
  if (!n) n = emn::parse_text(url_decode(sms[0].text), &error);
  ASSERT_TRUE(n) << error << " in: " << sms[0].text;
  EXPECT_EQ(n->mailbox, "mailat:" + user);
  EXPECT_EQ(sms[0].text, emn::to_text(*n));  // nothing but the EMN element
}

}  // namespace
}  // namespace pimap::notifier
