#include "intake.hpp"
#include "intake_server.hpp"

#include "mock_cluster.hpp"

#include <pimap/kafka/consumer.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace pimap::store_watcher {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOx =
    R"({"user":"alice","event":"messageNew","folder":"INBOX","imap-uidvalidity":77,"imap-uid":6,)"
    R"("from":"a@b","subject":"s","snippet":"x","unseen":1})";

struct Answer {
  int status = 0;
  std::string body;
};

std::future<Answer> call(Intake& intake, std::string_view method, std::string_view target, std::string_view body) {
  auto p = std::make_shared<std::promise<Answer>>();
  auto f = p->get_future();
  intake.handle(method, target, body, [p](int s, std::string b) { p->set_value({s, std::move(b)}); });
  return f;
}

std::unique_ptr<kafka::Producer> producer(const std::string& brokers, std::chrono::milliseconds timeout = 10s) {
  kafka::ProducerOptions o;
  o.brokers = brokers;
  o.delivery_timeout = timeout;
  o.close_timeout = 200ms;
  auto p = kafka::Producer::create(o);
  EXPECT_TRUE(p.ok());
  return std::move(p).value();
}

TEST(Intake, AnswersOkOnlyOnceTheEventIsInKafka) {
  kafka::test::MockCluster cluster;
  cluster.create_topic("pimap.events", 4);
  auto p = producer(cluster.bootstraps());
  Publisher publisher(*p, "pimap.events", nullptr);
  Intake intake(publisher, nullptr, nullptr, [] { return std::int64_t{42}; });

  auto answer = call(intake, "PUT", "/dovecot/push", kOx);
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  auto a = answer.get();
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(p->counters().delivered.load(), 1u);  // answered after the delivery report

  kafka::ConsumerOptions co;
  co.brokers = cluster.bootstraps();
  co.group_id = "intake-test";
  co.topics = {"pimap.events"};
  auto c = kafka::Consumer::create(co);
  ASSERT_TRUE(c.ok());
  std::optional<kafka::Message> got;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!got && std::chrono::steady_clock::now() < deadline) {
    auto m = c.value()->poll(200ms);
    if (m.ok() && m.value()) got = m.value();
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(got->key, "alice");
  pimap::v1::StoreEvent e;
  ASSERT_TRUE(e.ParseFromString(got->value));
  EXPECT_EQ(e.event_id(), "alice/INBOX/77/6/new");
  EXPECT_EQ(e.observed_unix_us(), 42);
  c.value()->close();
}

TEST(Intake, BadPayloadIs400AndPublishesNothing) {
  auto p = producer("127.0.0.1:1");
  Publisher publisher(*p, "pimap.events", nullptr);
  Intake intake(publisher, nullptr, nullptr, [] { return std::int64_t{0}; });
  auto a = call(intake, "PUT", "/dovecot/push", R"({"user":"alice","event":"messageNew"})").get();
  EXPECT_EQ(a.status, 400);
  EXPECT_NE(a.body.find("folder"), std::string::npos) << a.body;
  EXPECT_EQ(p->counters().enqueued.load(), 0u);
  EXPECT_EQ(call(intake, "GET", "/dovecot/push", "").get().status, 405);
  EXPECT_EQ(call(intake, "PUT", "/elsewhere", kOx).get().status, 404);
}

TEST(Intake, KafkaDownIs503AfterTheDeliveryTimeout) {
  auto p = producer("127.0.0.1:1", 1000ms);
  Publisher publisher(*p, "pimap.events", nullptr);
  Intake intake(publisher, nullptr, nullptr, [] { return std::int64_t{0}; });
  auto f = call(intake, "PUT", "/dovecot/push", kOx);
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get().status, 503);
}

TEST(Intake, LuaFlagChangeWithoutFullSetRequestsAReconcile) {
  auto p = producer("127.0.0.1:1");
  Publisher publisher(*p, "pimap.events", nullptr);
  std::string asked_user;
  std::vector<std::string> asked_boxes;
  Intake intake(
      publisher,
      [&](const std::string& u, const std::vector<std::string>& m, std::function<void(const kafka::Error&)> done) {
        asked_user = u;
        asked_boxes = m;
        done(kafka::Error{});
      },
      nullptr, [] { return std::int64_t{0}; });
  auto a = call(intake, "POST", "/dovecot/lua",
                R"({"v":1,"user":"bob","events":[{"type":"FlagsSet","mailbox":"INBOX","uidvalidity":5,"uid":9,"changed":["\\Seen"]}]})")
               .get();
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(asked_user, "bob");
  EXPECT_EQ(asked_boxes, std::vector<std::string>{"INBOX"});
}

TEST(IntakeServer, AnswersFromAnotherThreadOverHttp) {
  boost::asio::io_context io;
  std::string seen_method, seen_target, seen_body;
  IntakeServer server(io, [&](std::string_view m, std::string_view t, std::string_view b, IntakeServer::Respond r) {
    seen_method = m;
    seen_target = t;
    seen_body = b;
    std::thread([r] {
      std::this_thread::sleep_for(20ms);
      r(200, "ok\n");
    }).detach();
  });
  ASSERT_EQ(server.listen("127.0.0.1", 0), "");
  std::thread runner([&io] { io.run_for(10s); });

  boost::asio::io_context client_io;
  boost::asio::ip::tcp::socket s(client_io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  const std::string body = kOx;
  const std::string req = "PUT /dovecot/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  boost::asio::write(s, boost::asio::buffer(req));
  std::string response;
  boost::system::error_code ec;
  boost::asio::read(s, boost::asio::dynamic_buffer(response), ec);  // until the server closes
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_NE(response.find("\r\n\r\nok\n"), std::string::npos) << response;
  EXPECT_EQ(seen_method, "PUT");
  EXPECT_EQ(seen_target, "/dovecot/push");
  EXPECT_EQ(seen_body, body);
  server.stop_accepting();
  io.stop();
  runner.join();
}

}  // namespace
}  // namespace pimap::store_watcher
