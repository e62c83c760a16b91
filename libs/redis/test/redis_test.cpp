#include <pimap/redis/connection.hpp>
#include <pimap/redis/options.hpp>
#include <pimap/redis/pool.hpp>
#include <pimap/redis/script.hpp>
#include <pimap/redis/subscriber.hpp>
#include <pimap/redis/testing/redis_server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using pimap::redis::Connection;
using pimap::redis::ErrorKind;
using pimap::redis::Pipeline;
using pimap::redis::Pool;
using pimap::redis::Reply;
using pimap::redis::Retry;
using pimap::redis::Script;
using pimap::redis::Subscriber;
using pimap::redis::testing::RedisServer;

namespace {

RedisServer& server() {
  static RedisServer s;  // one redis-server for the whole binary; tests use distinct keys
  if (!s.running()) s.start();
  return s;
}

}  // namespace

TEST(RedisOptions, ParsesAddressForms) {
  auto a = pimap::redis::parse_address("10.0.0.1:7000");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "10.0.0.1");
  EXPECT_EQ(a->port, 7000);
  auto b = pimap::redis::parse_address("redis://:s3cret@redis.local:6380/2");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "redis.local");
  EXPECT_EQ(b->port, 6380);
  EXPECT_EQ(b->db, 2);
  EXPECT_EQ(b->password, "s3cret");
  auto c = pimap::redis::parse_address("[::1]:6390");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 6390);
  auto d = pimap::redis::parse_address("redis");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, 6379);
  EXPECT_FALSE(pimap::redis::parse_address("host:99999"));
  EXPECT_FALSE(pimap::redis::parse_address(":6379"));
}

TEST(RedisConnection, TypedRepliesAndBinarySafety) {
  Connection c(server().options());
  const std::string binary("a\0b\r\nc", 6);
  ASSERT_TRUE(c.command({"SET", "t:bin", binary}));
  auto got = c.command({"GET", "t:bin"});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->type(), Reply::Type::string);
  EXPECT_EQ(got->str(), binary);

  auto n = c.command({"INCRBY", "t:n", "41"});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n->as_integer(), 41);
  auto missing = c.command({"GET", "t:missing"});
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->is_nil());
  EXPECT_FALSE(missing->as_optional_string()->has_value());
  EXPECT_FALSE(missing->as_integer());

  ASSERT_TRUE(c.command({"RPUSH", "t:list", "x", "y"}));
  auto list = c.command({"LRANGE", "t:list", "0", "-1"});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->elements().size(), 2u);
  EXPECT_EQ(list->elements()[1].str(), "y");
}

TEST(RedisConnection, ServerErrorIsAValueAndConnectionStaysUsable) {
  Connection c(server().options());
  ASSERT_TRUE(c.command({"SET", "t:str", "v"}));
  auto bad = c.command({"LPUSH", "t:str", "x"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::server);
  EXPECT_NE(bad.error().message.find("WRONGTYPE"), std::string::npos);
  EXPECT_TRUE(c.connected());
  EXPECT_TRUE(c.command({"PING"}));
}

TEST(RedisConnection, PipelineKeepsOrderAndPerCommandErrors) {
  Connection c(server().options());
  Pipeline p;
  p.add({"DEL", "t:p"}).add({"INCR", "t:p"}).add({"HGET", "t:p", "f"}).add({"INCR", "t:p"});
  auto r = c.pipeline(p);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[1].integer(), 1);
  EXPECT_TRUE((*r)[2].is_error());
  EXPECT_EQ((*r)[3].integer(), 2);
}

TEST(RedisConnection, UnreachableServerFailsFastWithBackoff) {
  auto opts = server().options();
  opts.port = 1;  // nothing listens there
  opts.backoff_initial = 500ms;
  Connection c(opts);
  auto first = c.command({"PING"});
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().kind, ErrorKind::unavailable);
  const auto t0 = std::chrono::steady_clock::now();
  auto second = c.command({"PING"});  // inside the backoff window: no connect attempt at all
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::unavailable);
  EXPECT_NE(second.error().message.find("next attempt in"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 50ms);
}

TEST(RedisConnection, CommandTimeoutIsAnError) {
  auto opts = server().options();
  opts.command_timeout = 200ms;
  Connection c(opts);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.command({"BLPOP", "t:never", "5"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_FALSE(c.connected());
  EXPECT_TRUE(c.command({"PING"}));  // a fresh connection works
}

TEST(RedisScript, EvalShaFallsBackAfterScriptFlush) {
  Connection c(server().options());
  Script s("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  auto a = s.run(c, {"t:script"}, {"5"});
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(c.command({"SCRIPT", "FLUSH"}));
  auto b = s.run(c, {"t:script"}, {"5"});
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->integer(), a->integer() + 5);
  auto exists = c.command({"SCRIPT", "EXISTS", s.sha1()});
  ASSERT_TRUE(exists);
  EXPECT_EQ(exists->elements().at(0).integer(), 1);
}

TEST(RedisPool, WorkerThreadsShareBoundedConnections) {
  Pool pool(server().options(), 3);
  ASSERT_TRUE(pool.command({"DEL", "t:pool"}));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i)
        if (!pool.command({"INCR", "t:pool"})) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*pool.command({"GET", "t:pool"})->as_integer(), 600);
}

TEST(RedisPool, ExhaustionIsAnErrorNotAHang) {
  auto opts = server().options();
  opts.pool_wait = 100ms;
  Pool pool(opts, 1);
  auto held = pool.acquire();
  ASSERT_TRUE(held);
  auto second = pool.acquire();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::pool_exhausted);
}

TEST(RedisSubscriber, ReceivesMessagesAndResubscribesAfterRestart) {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> got;
  int ups = 0;
  Subscriber sub(
      server().options(), {"t:chan"},
      [&](std::string_view channel, std::string_view payload) {
        std::lock_guard l(m);
        got.push_back(std::string(channel) + "=" + std::string(payload));
        cv.notify_all();
      },
      [&](bool up, std::string_view) {
        std::lock_guard l(m);
        if (up) ++ups;
        cv.notify_all();
      });
  {
    std::unique_lock l(m);
    ASSERT_TRUE(cv.wait_for(l, 5s, [&] { return ups == 1; }));
  }
  Connection pub(server().options());
  ASSERT_TRUE(pub.command({"PUBLISH", "t:chan", "one"}));
  {
    std::unique_lock l(m);
    ASSERT_TRUE(cv.wait_for(l, 5s, [&] { return got.size() == 1; }));
    EXPECT_EQ(got[0], "t:chan=one");
  }

  server().restart();
  {
    std::unique_lock l(m);
    ASSERT_TRUE(cv.wait_for(l, 10s, [&] { return ups == 2; })) << "no re-subscribe after restart";
  }
  ASSERT_TRUE(pub.command({"PUBLISH", "t:chan", "two"}, Retry::if_stale));
  std::unique_lock l(m);
  ASSERT_TRUE(cv.wait_for(l, 5s, [&] { return got.size() == 2; }));
  EXPECT_EQ(got[1], "t:chan=two");
}

TEST(RedisConnection, ReconnectsAfterRedisRestart) {
  Connection c(server().options());
  ASSERT_TRUE(c.command({"SET", "t:r", "1"}));
  server().stop();
  auto down = c.command({"GET", "t:r"}, Retry::if_stale);
  ASSERT_FALSE(down);  // a clear error, not a crash or a hang
  EXPECT_TRUE(down.error().transient());
  server().start();
  // Within the (short) backoff the connection comes back by itself.
  bool ok = false;
  for (int i = 0; i < 50 && !ok; ++i) {
    ok = c.command({"PING"}).ok();
    if (!ok) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(ok);
}

TEST(RedisConnection, StaleConnectionIsRetriedOnlyWhenAllowed) {
  Connection c(server().options());
  ASSERT_TRUE(c.command({"PING"}));
  server().restart();
  // Redis restarted while the connection sat idle: an idempotent command gets through on a fresh one.
  auto r = c.command({"SET", "t:stale", "v"}, Retry::if_stale);
  EXPECT_TRUE(r) << r.error().message;

  ASSERT_TRUE(c.command({"PING"}));
  server().restart();
  auto never = c.command({"INCR", "t:stale-n"});  // not idempotent: the caller hears about it
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error().kind, ErrorKind::io);
}
