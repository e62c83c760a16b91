#include "intake.hpp"
#include "intake_server.hpp"

#include "mock_cluster.hpp"

#include <pimap/kafka/consumer.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <future>
#include <mutex>
#include <thread>
#include <vector>

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

TEST(Intake, KafkaDownIs503AfterTheDeliveryTimeoutAndAsksForAReconcileOfTheUser) {
  auto p = producer("127.0.0.1:1", 1000ms);
  Publisher publisher(*p, "pimap.events", nullptr);
  std::mutex mu;
  std::vector<std::pair<std::string, std::vector<std::string>>> asked;
  Intake intake(
      publisher,
      [&](const std::string& u, const std::vector<std::string>& m, std::function<void(const kafka::Error&)> done) {
        {
          std::lock_guard lock(mu);
          asked.emplace_back(u, m);
        }
        done(kafka::Error::make(kafka::ErrorKind::unavailable, "still down"));
      },
      nullptr, [] { return std::int64_t{0}; });
  auto f = call(intake, "PUT", "/dovecot/push", kOx);
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto a = f.get();
  EXPECT_EQ(a.status, 503);
  EXPECT_NE(a.body.find("reconcile request failed: still down"), std::string::npos) << a.body;
  std::lock_guard lock(mu);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].first, "alice");
  EXPECT_TRUE(asked[0].second.empty());  // the whole store: the lost events may name any mailbox
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

TEST(Intake, UnparsablePayloadIsLogged400AndStillRequestsAReconcile) {
  auto p = producer("127.0.0.1:1");
  Publisher publisher(*p, "pimap.events", nullptr);
  std::vector<std::pair<std::string, std::vector<std::string>>> asked;
  Intake intake(
      publisher,
      [&](const std::string& u, const std::vector<std::string>& m, std::function<void(const kafka::Error&)> done) {
        asked.emplace_back(u, m);
        done(kafka::Error{});
      },
      nullptr, [] { return std::int64_t{0}; });
  std::vector<std::string> logged;
  intake.on_rejected([&](std::string_view kind, const std::string& user, const std::string& reason,
                         const std::vector<std::string>& reconcile) {
    logged.push_back(std::string(kind) + " " + user + " " + reason + " " + std::to_string(reconcile.size()));
  });
  auto a = call(intake, "POST", "/dovecot/lua",
                R"({"v":1,"user":"bob","events":[{"type":"MessageNew","mailbox":"INBOX","uidvalidity":5,"uid":-1,)"
                R"("subject":"secret subject"}]})")
               .get();
  EXPECT_EQ(a.status, 400);
  EXPECT_NE(a.body.find("reconcile requested"), std::string::npos) << a.body;
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].first, "bob");
  EXPECT_EQ(asked[0].second, std::vector<std::string>{"INBOX"});
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0], "lua bob events[0].'uid' not a non-negative integer 1");
  EXPECT_EQ(logged[0].find("secret"), std::string::npos);
  EXPECT_EQ(p->counters().enqueued.load(), 0u);

  // Without a readable user there is nobody to reconcile: logged, 400, no request.
  EXPECT_EQ(call(intake, "POST", "/dovecot/lua", "{not json").get().status, 400);
  EXPECT_EQ(asked.size(), 1u);
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_EQ(logged[1].rfind("lua  invalid JSON", 0), 0u) << logged[1];
}

TEST(Intake, MailSavedWithoutUidIs200AndRequestsAReconcile) {
  auto p = producer("127.0.0.1:1");
  Publisher publisher(*p, "pimap.events", nullptr);
  std::vector<std::string> asked;
  Intake intake(
      publisher,
      [&](const std::string&, const std::vector<std::string>& m, std::function<void(const kafka::Error&)> done) {
        asked = m;
        done(kafka::Error{});
      },
      nullptr, [] { return std::int64_t{0}; });
  auto a = call(intake, "POST", "/dovecot/lua",
                R"({"v":1,"user":"user48","events":[{"type":"MessageNew","mailbox":"INBOX","uidvalidity":17,"uid":0}]})")
               .get();
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(asked, std::vector<std::string>{"INBOX"});
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

// Dovecot's HTTP client sends `Expect: 100-continue` on a connection's first request and waits
// (2 s) for `100 Continue` before sending the body. The intake says go on at once: the header alone
// gets the interim answer, then the body gets the real one.
TEST(IntakeServer, AnswersExpectContinueBeforeTheBodyIsSent) {
  boost::asio::io_context io;
  std::string seen_body;
  IntakeServer server(io, [&](std::string_view, std::string_view, std::string_view b, IntakeServer::Respond r) {
    seen_body = b;
    r(200, "ok\n");
  });
  ASSERT_EQ(server.listen("127.0.0.1", 0), "");
  std::thread runner([&io] { io.run_for(10s); });

  boost::asio::io_context client_io;
  boost::asio::ip::tcp::socket s(client_io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  const std::string body = R"({"v":1,"user":"bob","events":[]})";
  const std::string head = "POST /dovecot/lua HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Expect: 100-continue\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  boost::asio::write(s, boost::asio::buffer(head));
  std::string interim;
  boost::asio::read_until(s, boost::asio::dynamic_buffer(interim), "\r\n\r\n");
  EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << interim;
  EXPECT_TRUE(seen_body.empty());  // nothing handled before the body came
  boost::asio::write(s, boost::asio::buffer(body));
  std::string response = interim.substr(interim.find("\r\n\r\n") + 4);
  boost::system::error_code ec;
  boost::asio::read(s, boost::asio::dynamic_buffer(response), ec);  // until the server closes
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_EQ(seen_body, body);
  server.stop_accepting();
  io.stop();
  runner.join();
}

// Regression: with several io threads, an answer posted from another thread could run before the
// connection's coroutine began waiting for it, and that request was never answered (about 1 in
// 5,000 under load). Every one of many keep-alive requests must get its response.
TEST(IntakeServer, AnswersEveryRequestWithSeveralIoThreads) {
  boost::asio::io_context io;
  IntakeServer server(io, [](std::string_view, std::string_view, std::string_view, IntakeServer::Respond r) {
    r(200, "ok\n");  // at once: the widest window for the race
  });
  ASSERT_EQ(server.listen("127.0.0.1", 0), "");
  auto guard = boost::asio::make_work_guard(io);
  std::vector<std::thread> runners;
  for (int i = 0; i < 4; ++i) runners.emplace_back([&io] { io.run(); });

  constexpr int kConnections = 4;
  constexpr int kRequests = 3000;  // per connection
  const std::string body = kOx;
  const std::string req = "PUT /dovecot/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  std::vector<std::future<int>> answered;
  for (int c = 0; c < kConnections; ++c) {
    answered.push_back(std::async(std::launch::async, [&] {
      boost::asio::io_context client_io;
      boost::asio::ip::tcp::socket s(client_io);
      s.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
      // Plain recv(2) with SO_RCVTIMEO (Asio's blocking read would poll past the timeout), so a lost
      // answer fails the test instead of hanging it.
      timeval tv{5, 0};
      ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string buf;
      char chunk[4096];
      int ok = 0;
      for (int i = 0; i < kRequests; ++i) {
        boost::asio::write(s, boost::asio::buffer(req));
        std::size_t end;
        while ((end = buf.find("\r\n\r\nok\n")) == std::string::npos) {
          const auto n = ::recv(s.native_handle(), chunk, sizeof chunk, 0);
          if (n <= 0) return ok;
          buf.append(chunk, static_cast<std::size_t>(n));
        }
        buf.erase(0, end + 7);
        ++ok;
      }
      return ok;
    }));
  }
  for (auto& f : answered) EXPECT_EQ(f.get(), kRequests);
  server.stop_accepting();
  guard.reset();
  io.stop();
  for (auto& t : runners) t.join();
}

// Issue #5 end to end over HTTP: what one LMTP process posted during a 50-mail burst, on one
// keep-alive connection: a mail with its UID, then one saved without (uid 0). Both are 200; the
// second asks for a reconcile of INBOX instead of being dropped with a 400.
TEST(IntakeServer, BurstDeliveryWithoutUidIsAcceptedOverKeepAlive) {
  kafka::test::MockCluster cluster;
  cluster.create_topic("pimap.events", 4);
  auto p = producer(cluster.bootstraps());
  Publisher publisher(*p, "pimap.events", nullptr);
  std::mutex mu;
  std::vector<std::string> asked;
  Intake intake(
      publisher,
      [&](const std::string& u, const std::vector<std::string>& m, std::function<void(const kafka::Error&)> done) {
        {
          std::lock_guard lock(mu);
          for (const auto& b : m) asked.push_back(u + "/" + b);
        }
        done(kafka::Error{});
      },
      nullptr, [] { return std::int64_t{1}; });
  boost::asio::io_context io;
  IntakeServer server(io, [&](std::string_view m, std::string_view t, std::string_view b, IntakeServer::Respond r) {
    intake.handle(m, t, b, std::move(r));
  });
  ASSERT_EQ(server.listen("127.0.0.1", 0), "");
  auto guard = boost::asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });

  auto hook = [](std::uint32_t uid) {
    return std::string(R"({"v":1,"user":"user48","events":[{"type":"MessageNew","mailbox":"INBOX",)") +
           R"("uidvalidity":1764300000,"uid":)" + std::to_string(uid) +
           R"(,"from":"sender@example.org","subject":"m48-06"}],"status":{"INBOX":{"messages":9,)" +
           R"("uidnext":10,"uidvalidity":1764300000,"unseen":9,"highestmodseq":12}}})";
  };
  boost::asio::io_context client_io;
  boost::asio::ip::tcp::socket s(client_io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  timeval tv{10, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string buf;
  char chunk[4096];
  std::vector<std::string> statuses;
  for (std::uint32_t uid : {7u, 0u}) {
    const std::string body = hook(uid);
    const std::string req = "POST /dovecot/lua HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    boost::asio::write(s, boost::asio::buffer(req));
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos || buf.find('\n', end + 4) == std::string::npos) {
      const auto n = ::recv(s.native_handle(), chunk, sizeof chunk, 0);
      ASSERT_GT(n, 0) << "no answer for uid " << uid;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    statuses.push_back(buf.substr(0, buf.find("\r\n")));
    buf.erase(0, buf.find('\n', end + 4) + 1);
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"HTTP/1.1 200 OK", "HTTP/1.1 200 OK"}));
  EXPECT_EQ(p->counters().delivered.load(), 1u);  // the mail with a UID, as MESSAGE_NEW
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(asked, std::vector<std::string>{"user48/INBOX"});  // the one without
  }
  server.stop_accepting();
  guard.reset();
  io.stop();
  runner.join();
}

}  // namespace
}  // namespace pimap::store_watcher
