#include "login_gate.hpp"
#include "store_pool.hpp"

#include <pimap/kit/log.hpp>
#include <pimap/kit/metrics.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using pimap::edge::LoginGate;
using Verdict = LoginGate::Verdict;

namespace {

// Records what each named waiter was told, in the order told.
struct Recorder {
  std::vector<std::string> order;
  std::map<std::string, Verdict> verdicts;
  LoginGate::Ready as(std::string name) {
    return [this, name](Verdict v) {
      order.push_back(name);
      verdicts[name] = v;
    };
  }
};

class LoginGateTest : public ::testing::Test {
 protected:
  std::shared_ptr<LoginGate> gate(std::size_t in_flight, std::size_t queued, std::chrono::milliseconds wait = 60s) {
    return LoginGate::create({.max_in_flight = in_flight, .max_queued = queued, .max_wait = wait},
                             {.in_flight = &in_flight_, .queued = &queued_, .queue_full = &full_, .timed_out = &late_});
  }
  boost::asio::io_context io_;
  Recorder rec_;
  prometheus::Gauge in_flight_, queued_;
  prometheus::Counter full_, late_;
};

TEST_F(LoginGateTest, AdmitsUpToTheCapAndQueuesTheRest) {
  auto g = gate(2, 10);
  std::vector<LoginGate::Ticket> t;
  for (const char* n : {"a", "b", "c", "d", "e"}) t.push_back(g->enter(io_.get_executor(), rec_.as(n)));
  EXPECT_TRUE(rec_.order.empty()) << "never called inside enter()";
  io_.poll();
  EXPECT_EQ(rec_.order, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(g->in_flight(), 2u);
  EXPECT_EQ(g->queued(), 3u);
  EXPECT_EQ(in_flight_.Value(), 2);
  EXPECT_EQ(queued_.Value(), 3);
}

TEST_F(LoginGateTest, ReleasedSlotsGoToWaitersInArrivalOrder) {
  auto g = gate(1, 10);
  auto a = g->enter(io_.get_executor(), rec_.as("a"));
  auto b = g->enter(io_.get_executor(), rec_.as("b"));
  auto c = g->enter(io_.get_executor(), rec_.as("c"));
  auto d = g->enter(io_.get_executor(), rec_.as("d"));
  io_.poll();
  EXPECT_EQ(rec_.order, (std::vector<std::string>{"a"}));
  a.release();
  io_.poll();
  EXPECT_EQ(rec_.order, (std::vector<std::string>{"a", "b"}));
  {
    auto gone = std::move(b);  // destroying a ticket releases it too
  }
  io_.poll();
  c.release();
  io_.poll();
  EXPECT_EQ(rec_.order, (std::vector<std::string>{"a", "b", "c", "d"}));
  for (auto& [name, v] : rec_.verdicts) EXPECT_EQ(v, Verdict::admitted) << name;
  EXPECT_EQ(g->in_flight(), 1u);
  EXPECT_EQ(g->queued(), 0u);
}

TEST_F(LoginGateTest, FullQueueIsRefusedAtOnce) {
  auto g = gate(1, 2);
  auto a = g->enter(io_.get_executor(), rec_.as("a"));
  auto b = g->enter(io_.get_executor(), rec_.as("b"));
  auto c = g->enter(io_.get_executor(), rec_.as("c"));
  auto d = g->enter(io_.get_executor(), rec_.as("d"));
  io_.poll();
  EXPECT_EQ(rec_.order, (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(rec_.verdicts["d"], Verdict::queue_full);
  EXPECT_EQ(full_.Value(), 1);
  EXPECT_EQ(g->queued(), 2u);
  // The refused ticket holds nothing: releasing it admits nobody.
  d.release();
  io_.poll();
  EXPECT_EQ(rec_.order.size(), 2u);
  EXPECT_EQ(g->in_flight(), 1u);
}

TEST_F(LoginGateTest, ZeroQueueRefusesEverythingBeyondTheCap) {
  auto g = gate(1, 0);
  auto a = g->enter(io_.get_executor(), rec_.as("a"));
  auto b = g->enter(io_.get_executor(), rec_.as("b"));
  io_.poll();
  EXPECT_EQ(rec_.verdicts["a"], Verdict::admitted);
  EXPECT_EQ(rec_.verdicts["b"], Verdict::queue_full);
}

TEST_F(LoginGateTest, WaiterPastMaxWaitIsRefusedAndLeavesTheQueue) {
  auto g = gate(1, 10, 20ms);
  auto a = g->enter(io_.get_executor(), rec_.as("a"));
  auto b = g->enter(io_.get_executor(), rec_.as("b"));
  // Runs until b is told (bounded so a broken gate fails instead of hanging).
  for (int i = 0; i < 500 && !rec_.verdicts.contains("b"); ++i) io_.run_one_for(10ms);
  ASSERT_TRUE(rec_.verdicts.contains("b"));
  EXPECT_EQ(rec_.verdicts["b"], Verdict::timed_out);
  EXPECT_EQ(late_.Value(), 1);
  EXPECT_EQ(g->queued(), 0u);
  EXPECT_EQ(queued_.Value(), 0);
  // The timed-out waiter is not admitted later.
  a.release();
  io_.poll();
  EXPECT_EQ(rec_.order, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(g->in_flight(), 0u);
}

TEST_F(LoginGateTest, AdmittedWaiterIsNotTimedOutLater) {
  auto g = gate(1, 10, 30ms);
  auto a = g->enter(io_.get_executor(), rec_.as("a"));
  auto b = g->enter(io_.get_executor(), rec_.as("b"));
  io_.poll();
  a.release();
  io_.poll();
  ASSERT_EQ(rec_.verdicts["b"], Verdict::admitted);
  io_.run_for(60ms);  // past b's queue deadline
  EXPECT_EQ(rec_.order, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(late_.Value(), 0);
  EXPECT_EQ(g->in_flight(), 1u);
}

TEST_F(LoginGateTest, LeavingTheQueueFreesThePlaceAndIsNeverCalledBack) {
  auto g = gate(1, 2);
  auto a = g->enter(io_.get_executor(), rec_.as("a"));
  auto b = g->enter(io_.get_executor(), rec_.as("b"));
  auto c = g->enter(io_.get_executor(), rec_.as("c"));
  io_.poll();
  b.release();  // b's device hung up while waiting
  EXPECT_EQ(g->queued(), 1u);
  auto d = g->enter(io_.get_executor(), rec_.as("d"));  // fits in b's place
  io_.poll();
  EXPECT_EQ(g->queued(), 2u);
  a.release();
  io_.poll();
  c.release();
  io_.poll();
  EXPECT_EQ(rec_.order, (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_FALSE(rec_.verdicts.contains("b"));
  EXPECT_EQ(full_.Value(), 0);
}

TEST_F(LoginGateTest, ReleaseBeforeTheAdmissionIsDeliveredFreesTheSlot) {
  auto g = gate(1, 2);
  auto a = g->enter(io_.get_executor(), rec_.as("a"));
  a.release();  // admitted, but the callback has not run yet
  auto b = g->enter(io_.get_executor(), rec_.as("b"));
  io_.poll();
  EXPECT_EQ(rec_.order, (std::vector<std::string>{"b"}));
  EXPECT_EQ(g->in_flight(), 1u);
}

TEST(LoginGate, RejectsZeroCap) {
  EXPECT_THROW(LoginGate::create({.max_in_flight = 0}), std::invalid_argument);
}

// The store pool puts every credential check through its gate: with one check allowed and none
// queued, the second device is told "busy" without reaching the store; a device that leaves the
// queue gives its place to the next one.
class StorePoolGateTest : public ::testing::Test {
 protected:
  StorePoolGateTest() {
    // A port nothing listens on: admitted checks fail as unavailable ("connect" errors), which
    // tells them apart from the gate's own refusal.
    boost::asio::ip::tcp::acceptor probe(io_, {boost::asio::ip::make_address("127.0.0.1"), 0});
    closed_port_ = probe.local_endpoint().port();
  }
  std::unique_ptr<pimap::edge::StorePool> pool(std::size_t in_flight, std::size_t queued) {
    pimap::edge::StorePoolOptions o;
    o.port = closed_port_;
    o.connect_timeout = 2s;
    o.max_concurrent_logins = in_flight;
    o.max_queued_logins = queued;
    return std::make_unique<pimap::edge::StorePool>(o, metrics_, log_);
  }
  using Result = pimap::edge::StoreGateway::LoginResult;
  std::function<void(Result)> into(std::optional<Result>& out) {
    return [&out](Result r) { out = std::move(r); };
  }
  void run_until(const std::optional<Result>& r) {
    for (int i = 0; i < 500 && !r; ++i) io_.run_one_for(10ms);
  }

  boost::asio::io_context io_;
  std::uint16_t closed_port_ = 0;
  pimap::kit::Metrics metrics_{"edge", std::make_shared<prometheus::Registry>()};
  pimap::kit::Logger log_{"edge", pimap::kit::Level::error};
};

TEST_F(StorePoolGateTest, CheckBeyondCapAndQueueIsAnsweredBusy) {
  auto p = pool(1, 0);
  std::optional<Result> a, b;
  p->login(io_.get_executor(), "user01", "pw", "127.0.0.9", into(a));
  p->login(io_.get_executor(), "user02", "pw", "127.0.0.9", into(b));
  run_until(b);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, pimap::edge::StoreStatus::unavailable);
  EXPECT_EQ(b->text, "Server busy, try again");
  run_until(a);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, pimap::edge::StoreStatus::unavailable);
  EXPECT_NE(a->text, "Server busy, try again");  // it reached (tried to reach) the store
  const std::string m = metrics_.render();
  EXPECT_NE(m.find("pimap_edge_login_checks_refused_total{reason=\"queue_full\"} 1"), std::string::npos) << m;
}

TEST_F(StorePoolGateTest, DeviceLeavingTheQueueIsDroppedAndFreesItsPlace) {
  auto p = pool(1, 1);
  std::optional<Result> a, b, c;
  boost::asio::cancellation_signal b_gone;
  p->login(io_.get_executor(), "user01", "pw", "127.0.0.9", into(a));
  p->login(io_.get_executor(), "user02", "pw", "127.0.0.9", into(b), b_gone.slot());
  b_gone.emit(boost::asio::cancellation_type::terminal);
  p->login(io_.get_executor(), "user03", "pw", "127.0.0.9", into(c));  // takes b's queue place
  run_until(a);
  run_until(c);
  ASSERT_TRUE(a);
  ASSERT_TRUE(c);
  EXPECT_FALSE(b) << "a check dropped while queued is never answered";
  EXPECT_NE(c->text, "Server busy, try again");
  io_.poll();
  EXPECT_FALSE(b);
}

}  // namespace
