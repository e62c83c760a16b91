#include "pimap/kit/lifecycle.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <mutex>

namespace pimap::kit {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

struct LifecycleFixture : ::testing::Test {
  std::mutex mutex;
  std::vector<std::string> lines;
  Logger log{"test", Level::info, [this](std::string_view l) {
               std::lock_guard lock(mutex);
               lines.emplace_back(l);
             }};
  Readiness readiness;

  Lifecycle::Options options(std::chrono::milliseconds drain) {
    Lifecycle::Options o;
    o.worker_threads = 2;
    o.drain_timeout = drain;
    o.handle_signals = false;
    return o;
  }
  std::string find_line(std::string_view needle) {
    std::lock_guard lock(mutex);
    for (const auto& l : lines)
      if (l.find(needle) != std::string::npos) return l;
    return "";
  }
};

TEST_F(LifecycleFixture, SequenceIsDrainingThenStopAcceptingThenDrain) {
  Lifecycle lc(options(2s), log, readiness);
  std::vector<std::string> order;
  lc.on_stop_accepting("listener", [&] {
    order.push_back(readiness.draining() ? "stop_accepting (draining)" : "stop_accepting (ready!)");
  });
  lc.on_drain("queue", [&](DrainToken t) {
    order.push_back("drain");
    t.done();
  });
  lc.shutdown("test");
  EXPECT_EQ(lc.run(), 0);
  EXPECT_EQ(order, (std::vector<std::string>{"stop_accepting (draining)", "drain"}));
  EXPECT_THAT(find_line("shutdown: drained"), HasSubstr("\"level\":\"info\""));
}

TEST_F(LifecycleFixture, DrainWaitsForAsyncWorkOnTheWorkers) {
  Lifecycle lc(options(5s), log, readiness);
  boost::asio::steady_timer flush(lc.io());
  bool flushed = false;
  lc.on_drain("flush", [&](DrainToken t) {
    flush.expires_after(300ms);
    flush.async_wait([&, t](const boost::system::error_code&) {
      flushed = true;
      t.done();
    });
  });
  auto result = std::async(std::launch::async, [&] { return lc.run(); });
  std::this_thread::sleep_for(50ms);
  auto started = Clock::now();
  lc.shutdown("test");
  ASSERT_EQ(result.wait_for(3s), std::future_status::ready);
  auto took = Clock::now() - started;
  EXPECT_EQ(result.get(), 0);
  EXPECT_TRUE(flushed);
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 2s);
}

TEST_F(LifecycleFixture, DrainIsCutOffAtTheTimeoutAndNamesWhatWasLeft) {
  Lifecycle lc(options(400ms), log, readiness);
  DrainToken kept_forever = [&] {
    std::promise<DrainToken> p;
    lc.on_drain("never finishes", [&p](DrainToken t) { p.set_value(t); });
    lc.on_drain("finishes", [](DrainToken t) { t.done(); });
    lc.shutdown("test");
    auto started = Clock::now();
    EXPECT_EQ(lc.run(), 0);
    auto took = Clock::now() - started;
    EXPECT_GE(took, 390ms);
    EXPECT_LT(took, 1500ms);
    return p.get_future().get();
  }();
  kept_forever.done();  // late: harmless
  auto warn = find_line("drain cut off");
  ASSERT_FALSE(warn.empty());
  auto o = boost::json::parse(warn).as_object();
  EXPECT_EQ(o.at("level").as_string(), "warn");
  EXPECT_EQ(o.at("pending_hooks").as_string(), "never finishes");
}

TEST_F(LifecycleFixture, ExitCodeComesFromTheFirstShutdownRequest) {
  Lifecycle lc(options(1s), log, readiness);
  lc.shutdown("fatal: lost the store", 3);
  lc.shutdown("second request", 0);
  EXPECT_TRUE(lc.shutting_down());
  EXPECT_EQ(lc.run(), 3);
}

TEST_F(LifecycleFixture, ExceptionEscapingAHandlerShutsDownWithCodeOne) {
  Lifecycle lc(options(1s), log, readiness);
  boost::asio::post(lc.io(), [] { throw std::runtime_error("bug in a handler"); });
  auto result = std::async(std::launch::async, [&] { return lc.run(); });
  ASSERT_EQ(result.wait_for(3s), std::future_status::ready);
  EXPECT_EQ(result.get(), 1);
  EXPECT_THAT(find_line("unhandled exception"), HasSubstr("bug in a handler"));
}

TEST_F(LifecycleFixture, SigtermStartsTheShutdown) {
  auto o = options(1s);
  o.handle_signals = true;
  Lifecycle lc(o, log, readiness);
  bool drained = false;
  lc.on_drain("d", [&](DrainToken t) {
    drained = true;
    t.done();
  });
  std::raise(SIGTERM);  // handled by the lifecycle, not fatal
  auto result = std::async(std::launch::async, [&] { return lc.run(); });
  ASSERT_EQ(result.wait_for(3s), std::future_status::ready);
  EXPECT_EQ(result.get(), 0);
  EXPECT_TRUE(drained);
  EXPECT_THAT(find_line("shutdown: started"), HasSubstr("SIGTERM"));
}

}  // namespace
}  // namespace pimap::kit
