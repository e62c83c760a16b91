#include "control_loop.hpp"

#include <gtest/gtest.h>

namespace pimap::store_watcher {
namespace {

using namespace std::chrono_literals;
using TP = ReconcileQueue::TimePoint;

// The control loop's work without Kafka: poll() is never called by these tests.
struct NoConsumer : kafka::Consumer {
  kafka::Result<std::optional<kafka::Message>> poll(std::chrono::milliseconds) override {
    return std::optional<kafka::Message>{};
  }
  kafka::Error commit(const kafka::Message&) override { return {}; }
  kafka::Error commit(std::span<const kafka::PartitionOffset>) override { return {}; }
  kafka::Result<std::vector<kafka::PartitionOffset>> committed(std::span<const kafka::TopicPartition>,
                                                               std::chrono::milliseconds) override {
    return std::vector<kafka::PartitionOffset>{};
  }
  std::vector<kafka::TopicPartition> assignment() const override { return {}; }
  kafka::Error close() override { return {}; }
};

// A store that is down until told otherwise; one mailbox whose MODSEQ moves.
struct Store : StoreView {
  bool down = false;
  int logins = 0;
  std::uint64_t modseq = 5;
  Outcome<std::vector<MailboxSnapshot>> mailboxes(const std::string&) override {
    ++logins;
    if (down) return Outcome<std::vector<MailboxSnapshot>>::failure("connect: connection refused");
    MailboxSnapshot m;
    m.name = "INBOX";
    m.status.set_uidvalidity(1);
    m.status.set_highestmodseq(modseq);
    m.status.set_uidnext(10);
    return Outcome<std::vector<MailboxSnapshot>>::success({m});
  }
  Outcome<MailboxChanges> changes_since(const std::string&, const std::string&, const MailboxState&) override {
    MailboxChanges c;
    c.status.set_uidvalidity(1);
    c.status.set_highestmodseq(modseq);
    c.status.set_uidnext(10);
    c.changed.push_back(ChangedMessage{3, modseq, {"\\Seen"}, std::nullopt});
    return Outcome<MailboxChanges>::success(c);
  }
};

struct State : StateStore {
  std::map<std::string, UserState> users;
  Outcome<UserState> load(const std::string& user) override { return Outcome<UserState>::success(users[user]); }
  std::string save(const std::string& user, const UserState& s) override {
    users[user] = s;
    return {};
  }
};

class ControlLoopTest : public ::testing::Test {
 protected:
  ControlLoopTest() : ownership(4), reconciler(store, state, [this](std::vector<pimap::v1::StoreEvent> ev) {
    published += ev.size();
    return kafka::Error{};
  }, [] { return std::int64_t{1}; }) {
    ownership.assign({0, 1, 2, 3});
  }
  ControlLoop loop() {
    ControlLoop::Options o;
    o.retry.initial_backoff = 1s;
    o.retry.max_backoff = 4s;
    o.watched_users = [this] {
      if (redis_down) return Outcome<std::vector<std::string>>::failure("redis SSCAN: Server closed the connection");
      return Outcome<std::vector<std::string>>::success(watched);
    };
    o.on_report = [this](const std::string& user, const Reconciler::Report& r) {
      reports.push_back(user + (r.ok ? ":ok" : ":failed"));
    };
    return ControlLoop(o, consumer, ownership, reconciler);
  }

  NoConsumer consumer;
  Ownership ownership;
  Store store;
  State state;
  Reconciler reconciler;
  std::size_t published = 0;
  bool redis_down = false;
  std::vector<std::string> watched{"alice"};
  std::vector<std::string> reports;
};

TEST_F(ControlLoopTest, AShardGainWhileRedisIsDownIsReconciledOnceRedisIsBack) {
  state.users["alice"]["INBOX"] = MailboxState{1, 4, 10};  // published up to MODSEQ 4; the store is at 5
  auto l = loop();
  const TP t0{};
  redis_down = true;
  l.shards_gained({0, 1, 2, 3}, t0);
  l.work(t0);
  EXPECT_EQ(reports, (std::vector<std::string>{":failed"}));
  redis_down = false;
  l.work(t0 + 500ms);  // still backing off
  EXPECT_EQ(reports.size(), 1u);
  l.work(t0 + 1s);
  EXPECT_EQ(reports, (std::vector<std::string>{":failed", "alice:ok"}));
  EXPECT_EQ(published, 1u);
  EXPECT_EQ(state.users["alice"]["INBOX"].highestmodseq, 5u);
}

TEST_F(ControlLoopTest, ARequestThatFailsOnTheStoreIsRetriedUntilItSucceeds) {
  state.users["bob"]["INBOX"] = MailboxState{1, 4, 10};
  auto l = loop();
  const TP t0{};
  store.down = true;
  l.requested("bob", {"INBOX"}, t0);
  l.work(t0);
  l.work(t0 + 1s);
  EXPECT_EQ(reports, (std::vector<std::string>{"bob:failed", "bob:failed"}));
  EXPECT_EQ(l.pending_users(), 1u);
  store.down = false;
  l.work(t0 + 2s);  // second failure: backoff 2 s
  EXPECT_EQ(reports.size(), 2u);
  l.work(t0 + 3s);
  EXPECT_EQ(reports.back(), "bob:ok");
  EXPECT_EQ(published, 1u);
  EXPECT_EQ(l.pending_users(), 0u);
}

TEST_F(ControlLoopTest, ADownStoreCostsOneAttemptPerBackoffNotOnePerUser) {
  watched = {"u1", "u2", "u3", "u4", "u5", "u6"};
  auto l = loop();
  const TP t0{};
  store.down = true;
  l.all_owned_due(t0);
  l.work(t0);
  EXPECT_EQ(store.logins, 2) << "two users failing in a row pause the queue";
  EXPECT_EQ(l.pending_users(), 6u);
  store.down = false;
  l.work(t0 + 4s);
  EXPECT_EQ(store.logins, 8);
  EXPECT_EQ(l.pending_users(), 0u);
}

TEST_F(ControlLoopTest, UsersOfAShardThatMovedAwayAreNotRetried) {
  auto l = loop();
  const TP t0{};
  store.down = true;
  l.requested("carol", {}, t0);
  l.work(t0);
  ownership.revoke({shard_of("carol", 4)});
  store.down = false;
  l.work(t0 + 10s);
  EXPECT_EQ(reports, (std::vector<std::string>{"carol:failed"}));
  EXPECT_EQ(l.pending_users(), 0u);
}

}  // namespace
}  // namespace pimap::store_watcher
