#include <pimap/sessionstore/connection_policy.hpp>
#include <pimap/sessionstore/sessions.hpp>
#include <pimap/sessionstore/wakeup_gate.hpp>

#include "fixture.hpp"

#include <thread>

using namespace std::chrono_literals;
using namespace pimap::sessionstore;

namespace {

class ConnectionPolicyTest : public test::StoreTest {
 protected:
  ConnectionPolicy policy{pool, keys, PolicyConfig{2, 300s}};
  const std::string user = "user01@example.test";
};

TEST_F(ConnectionPolicyTest, EvictsTheLongestIdleConnectionNotTheNewOne) {
  ASSERT_TRUE(policy.admit(user, "Pa", "edge-1", "1", 1000)->empty());
  ASSERT_TRUE(policy.admit(user, "Pb", "edge-2", "1", 2000)->empty());
  ASSERT_TRUE(policy.mark(user, "Pa", true, 5000));  // Pa was active more recently than Pb
  auto ev = policy.admit(user, "Pc", "edge-1", "1", 6000);
  ASSERT_TRUE(ev);
  ASSERT_EQ(ev->size(), 1u);
  EXPECT_EQ((*ev)[0].reason, Eviction::Reason::limit);
  EXPECT_EQ((*ev)[0].entry.conn_id, "Pb");
  EXPECT_EQ((*ev)[0].entry.edge_id, "edge-2");
  auto list = policy.list(user);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(ConnectionPolicyTest, BusyConnectionsAreEvictedOnlyWhenNoneIsIdle) {
  ASSERT_TRUE(policy.admit(user, "Pa", "edge-1", "1", 1000));
  ASSERT_TRUE(policy.admit(user, "Pb", "edge-1", "1", 2000));
  ASSERT_TRUE(policy.mark(user, "Pa", false, 3000));  // Pa busy: Pb is the only idle one
  EXPECT_EQ((*policy.admit(user, "Pc", "edge-1", "1", 4000))[0].entry.conn_id, "Pb");
  ASSERT_TRUE(policy.mark(user, "Pc", false, 5000));  // now both busy: the oldest goes
  EXPECT_EQ((*policy.admit(user, "Pd", "edge-1", "1", 6000))[0].entry.conn_id, "Pa");
}

TEST_F(ConnectionPolicyTest, SameDeviceSupersedesItsOldConnection) {
  ASSERT_TRUE(policy.admit(user, "Pa", "edge-1", "1", 1000));
  auto ev = policy.admit(user, "Pa", "edge-2", "2", 2000);
  ASSERT_TRUE(ev);
  ASSERT_EQ(ev->size(), 1u);
  EXPECT_EQ((*ev)[0].reason, Eviction::Reason::superseded);
  EXPECT_EQ((*ev)[0].entry.edge_id, "edge-1");
  // The old connection's late release does not remove the new one.
  ASSERT_TRUE(policy.release(user, "Pa", "1"));
  ASSERT_EQ(policy.list(user)->size(), 1u);
  ASSERT_TRUE(policy.release(user, "Pa", "2"));
  EXPECT_TRUE(policy.list(user)->empty());
}

TEST_F(ConnectionPolicyTest, StaleEntriesOfCrashedEdgesDoNotCount) {
  ConnectionPolicy short_policy(pool, keys, PolicyConfig{2, 10s});
  ASSERT_TRUE(short_policy.admit(user, "Pa", "edge-dead", "1", 1000));
  ASSERT_TRUE(short_policy.admit(user, "Pb", "edge-1", "1", 20'000));
  auto ev = short_policy.admit(user, "Pc", "edge-1", "1", 21'000);  // Pa unseen for 20 s: dropped
  ASSERT_TRUE(ev);
  EXPECT_TRUE(ev->empty());
  EXPECT_EQ(short_policy.list(user)->size(), 2u);
}

class WakeupGateTest : public test::StoreTest {};

TEST_F(WakeupGateTest, OneOutstandingWakeUpUntilReconnectOrInterval) {
  WakeupGate gate(pool, keys, WakeupConfig{300ms, 3});
  EXPECT_EQ(*gate.try_acquire(phone), WakeDecision::send);
  EXPECT_EQ(*gate.try_acquire(phone), WakeDecision::coalesced);
  Sessions sessions(pool, keys, SessionConfig{});
  ASSERT_TRUE(sessions.open(phone, OpenParams{"edge-a", "tcp"}));  // the device came back
  EXPECT_EQ(*gate.try_acquire(phone), WakeDecision::send);
  std::this_thread::sleep_for(350ms);
  EXPECT_EQ(*gate.try_acquire(phone), WakeDecision::send);
  ASSERT_TRUE(gate.reset(phone));
  EXPECT_EQ(*gate.try_acquire(phone), WakeDecision::capped);  // 4th within the hour, cap 3
}

}  // namespace
