#include "wakeup_sender.hpp"

#include "metrics_probe.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <mutex>
#include <thread>

namespace pimap::notifier {
namespace {

using namespace std::chrono_literals;

// Answers from a script; records when each request came.
class ScriptedTransport final : public HttpTransport {
 public:
  explicit ScriptedTransport(std::deque<HttpResult> answers) : answers_(std::move(answers)) {}
  HttpResult send(const HttpRequest& r) override {
    std::lock_guard lock(mu_);
    times_.push_back(std::chrono::steady_clock::now());
    urls_.push_back(r.url);
    if (answers_.empty()) return {false, "no more answers", 0, {}};
    auto a = answers_.front();
    answers_.pop_front();
    return a;
  }
  std::size_t calls() {
    std::lock_guard lock(mu_);
    return times_.size();
  }
  std::vector<std::chrono::steady_clock::time_point> times() {
    std::lock_guard lock(mu_);
    return times_;
  }

 private:
  std::mutex mu_;
  std::deque<HttpResult> answers_;
  std::vector<std::chrono::steady_clock::time_point> times_;
  std::vector<std::string> urls_;
};

kit::Logger quiet() {
  return kit::Logger("notifier", kit::Level::error, [](std::string_view) {});
}

DeliveryOptions fast(int attempts) {
  DeliveryOptions o;
  o.max_attempts = attempts;
  o.initial_backoff = 50ms;
  o.max_backoff = 200ms;
  return o;
}

WakeupJob sms_job() {
  WakeupJob j;
  j.channel = Channel::sms;
  j.request.url = "http://127.0.0.1:1/cgi-bin/sendsms";
  j.user = "user01";
  j.device_id = "Pphone";
  return j;
}

bool wait_until(const std::function<bool()>& f, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

TEST(WakeupSender, RetriesWithGrowingBackoffUntilTheGatewayAnswers) {
  test::MetricsProbe probe;
  Metrics metrics(probe.kit);
  ScriptedTransport t({{false, "connect: Connection refused", 0, {}},
                       {true, {}, 503, "Sending failed"},
                       {true, {}, 202, "0: Accepted for delivery"}});
  WakeupSender sender(t, fast(5), metrics, quiet());
  ASSERT_TRUE(sender.submit(sms_job()));
  ASSERT_TRUE(wait_until([&] { return probe.wakeups("sms", "sent") == 1; }));
  EXPECT_EQ(t.calls(), 3u);
  EXPECT_EQ(probe.wakeups("sms", "failed"), 0);
  const auto times = t.times();
  EXPECT_GE(times[1] - times[0], 50ms);
  EXPECT_GE(times[2] - times[1], 100ms);  // doubled
}

TEST(WakeupSender, PermanentFailureIsCountedOnceAndNotRetried) {
  test::MetricsProbe probe;
  Metrics metrics(probe.kit);
  ScriptedTransport t({{true, {}, 403, "Authorization failed for sendsms"}});
  WakeupSender sender(t, fast(5), metrics, quiet());
  ASSERT_TRUE(sender.submit(sms_job()));
  ASSERT_TRUE(wait_until([&] { return probe.wakeups("sms", "failed") == 1; }));
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(t.calls(), 1u);
}

TEST(WakeupSender, GivesUpAfterMaxAttempts) {
  test::MetricsProbe probe;
  Metrics metrics(probe.kit);
  ScriptedTransport t({});  // always a transport error
  WakeupSender sender(t, fast(3), metrics, quiet());
  ASSERT_TRUE(sender.submit(sms_job()));
  ASSERT_TRUE(wait_until([&] { return probe.wakeups("sms", "failed") == 1; }));
  EXPECT_EQ(t.calls(), 3u);
  EXPECT_EQ(sender.queued(), 0u);
}

TEST(WakeupSender, ADeadGatewayDoesNotHoldUpOtherWakeUps) {
  test::MetricsProbe probe;
  Metrics metrics(probe.kit);
  // First job: refused, retried later; meanwhile the second is sent at once.
  ScriptedTransport t({{false, "refused", 0, {}},
                       {true, {}, 202, R"(<response-result code="1001"/>)"},
                       {true, {}, 202, "0: Accepted"}});
  auto o = fast(3);
  o.initial_backoff = 300ms;
  WakeupSender sender(t, o, metrics, quiet());
  ASSERT_TRUE(sender.submit(sms_job()));
  ASSERT_TRUE(wait_until([&] { return t.calls() == 1; }));
  auto second = sms_job();
  second.channel = Channel::wap_push;
  ASSERT_TRUE(sender.submit(second));
  ASSERT_TRUE(wait_until([&] { return probe.wakeups("wap_push", "sent") == 1; }, 250ms));
  EXPECT_EQ(probe.wakeups("sms", "sent"), 0);
  ASSERT_TRUE(wait_until([&] { return probe.wakeups("sms", "sent") == 1; }));
}

TEST(WakeupSender, FullQueueFailsTheWakeUp) {
  test::MetricsProbe probe;
  Metrics metrics(probe.kit);
  ScriptedTransport t({});
  auto o = fast(100);
  o.initial_backoff = 10s;  // keeps the first job waiting in the queue
  o.max_backoff = 10s;
  o.max_queued = 1;
  WakeupSender sender(t, o, metrics, quiet());
  ASSERT_TRUE(sender.submit(sms_job()));
  ASSERT_TRUE(wait_until([&] { return t.calls() == 1; }));
  EXPECT_FALSE(sender.submit(sms_job()));
  EXPECT_EQ(probe.wakeups("sms", "failed"), 1);
  sender.stop(std::chrono::steady_clock::now());  // the waiting retry is dropped and counted
  ASSERT_TRUE(wait_until([&] { return probe.wakeups("sms", "failed") == 2; }));
}

}  // namespace
}  // namespace pimap::notifier
