// Listener limits and graceful drain.

#include "support.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

namespace pimap::net::test {
namespace {

Listener::AcceptHandler plain_echo(std::shared_ptr<Events> events) {
  return [events](std::shared_ptr<Connection> c) { echo(c, events); };
}

bool echoes(RawClient& c, const std::string& text) {
  c.send(text);
  return c.recv_exact(text.size(), 3s) == text;
}

template <class F>
bool eventually(F f, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

TEST(Listener, MaxConnectionsRefusesAndCountsTheExcess) {
  auto events = std::make_shared<Events>();
  ListenerOptions o;
  o.max_connections = 2;
  Server server(plain_echo(events), o);
  auto c1 = std::make_unique<RawClient>(server.port());
  RawClient c2(server.port());
  ASSERT_TRUE(echoes(*c1, "one"));
  ASSERT_TRUE(echoes(c2, "two"));
  RawClient c3(server.port());
  EXPECT_TRUE(c3.closed_by_peer());
  EXPECT_EQ(server.listener().stats().refused_limit, 1u);
  EXPECT_EQ(server.listener().stats().open, 2u);

  c1.reset();  // the server sees EOF, closes, and frees the slot
  ASSERT_TRUE(eventually([&] { return server.listener().stats().open == 1; }));
  RawClient c4(server.port());
  EXPECT_TRUE(echoes(c4, "four"));
  EXPECT_EQ(server.listener().stats().accepted, 3u);
}

TEST(Listener, PerSourceRateLimit) {
  auto events = std::make_shared<Events>();
  ListenerOptions o;
  o.max_accepts_per_source_per_second = 2;
  Server server(plain_echo(events), o);
  RawClient c1(server.port());
  RawClient c2(server.port());
  ASSERT_TRUE(echoes(c1, "a"));
  ASSERT_TRUE(echoes(c2, "b"));
  RawClient c3(server.port());
  EXPECT_TRUE(c3.closed_by_peer());
  EXPECT_EQ(server.listener().stats().refused_rate, 1u);
  std::this_thread::sleep_for(1100ms);
  RawClient c4(server.port());
  EXPECT_TRUE(echoes(c4, "d"));
}

TEST(Listener, StopAcceptingKeepsOpenConnections) {
  auto events = std::make_shared<Events>();
  Server server(plain_echo(events));
  RawClient c1(server.port());
  ASSERT_TRUE(echoes(c1, "before"));
  server.listener().stop_accepting();
  EXPECT_TRUE(eventually([&] {
    try {
      RawClient probe(server.port());
      return false;
    } catch (const std::runtime_error&) {
      return true;  // connection refused: nobody listens any more
    }
  }));
  EXPECT_TRUE(echoes(c1, "after"));
}

TEST(Listener, ConnectionsAreSpreadOverThePool) {
  IoPool pool(2);
  std::mutex m;
  std::set<std::thread::id> threads;
  auto events = std::make_shared<Events>();
  auto listener = Listener::create(pool, {}, [&](std::shared_ptr<Connection> c) {
    {
      std::lock_guard lock(m);
      threads.insert(std::this_thread::get_id());
    }
    echo(c, events);
  });
  listener->start();
  pool.start();
  {
    RawClient a(listener->port()), b(listener->port());
    ASSERT_TRUE(echoes(a, "a"));
    ASSERT_TRUE(echoes(b, "b"));
  }
  listener->stop_accepting();
  pool.stop();
  pool.join();
  EXPECT_EQ(threads.size(), 2u);
}

}  // namespace
}  // namespace pimap::net::test
