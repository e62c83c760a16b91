#include "reconciler.hpp"

#include <gtest/gtest.h>

namespace pimap::store_watcher {
namespace {

using pimap::v1::StoreEvent;

pimap::v1::MailboxStatus status(std::uint32_t uidvalidity, std::uint64_t modseq, std::uint32_t uidnext) {
  pimap::v1::MailboxStatus s;
  s.set_uidvalidity(uidvalidity);
  s.set_highestmodseq(modseq);
  s.set_uidnext(uidnext);
  return s;
}

struct FakeStore : StoreView {
  std::vector<MailboxSnapshot> boxes;
  std::map<std::string, MailboxChanges> changes;
  std::vector<std::pair<std::string, MailboxState>> asked;
  bool fail = false;

  Outcome<std::vector<MailboxSnapshot>> mailboxes(const std::string&) override {
    if (fail) return Outcome<std::vector<MailboxSnapshot>>::failure("connection refused");
    return Outcome<std::vector<MailboxSnapshot>>::success(boxes);
  }
  Outcome<MailboxChanges> changes_since(const std::string&, const std::string& mailbox,
                                        const MailboxState& since) override {
    asked.emplace_back(mailbox, since);
    return Outcome<MailboxChanges>::success(changes.at(mailbox));
  }
};

struct FakeState : StateStore {
  std::map<std::string, UserState> users;
  int saves = 0;
  Outcome<UserState> load(const std::string& user) override {
    return Outcome<UserState>::success(users[user]);
  }
  std::string save(const std::string& user, const UserState& s) override {
    ++saves;
    users[user] = s;
    return {};
  }
};

class ReconcilerTest : public ::testing::Test {
 protected:
  Reconciler reconciler() {
    return Reconciler(store, state, [this](std::vector<StoreEvent> ev) {
      if (!publish_error.ok()) return publish_error;
      published.insert(published.end(), ev.begin(), ev.end());
      return kafka::Error{};
    }, [] { return std::int64_t{1000}; });
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& e : published) out.push_back(e.event_id());
    return out;
  }

  FakeStore store;
  FakeState state;
  std::vector<StoreEvent> published;
  kafka::Error publish_error;
};

TEST_F(ReconcilerTest, FirstRunOnlyRecordsBaseline) {
  store.boxes = {{"INBOX", status(5, 100, 20)}, {"Sent", status(6, 3, 2)}};
  auto r = reconciler().reconcile("alice");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.baseline);
  EXPECT_TRUE(published.empty());
  EXPECT_EQ(state.users["alice"]["INBOX"], (MailboxState{5, 100, 20}));
  EXPECT_TRUE(store.asked.empty());
}

// A hook's flag change for a user never reconciled before: the baseline is recorded and the
// transaction that fired the hook (the mailbox's newest MODSEQ) is still published.
TEST_F(ReconcilerTest, FirstRunAskedForAMailboxPublishesItsLastTransaction) {
  store.boxes = {{"INBOX", status(5, 100, 20)}, {"Sent", status(6, 3, 2)}};
  MailboxChanges ch;
  ch.status = status(5, 100, 20);
  ch.changed = {{7, 100, {"\\Seen"}, std::nullopt}, {9, 99, {"\\Flagged"}, std::nullopt}};
  store.changes["INBOX"] = ch;
  auto r = reconciler().reconcile("alice", {"INBOX"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.baseline);
  ASSERT_EQ(store.asked.size(), 1u);
  EXPECT_EQ(store.asked[0].second, (MailboxState{5, 99, 20}));
  ASSERT_EQ(published.size(), 1u);  // uid 9 changed in an earlier transaction: not reported
  EXPECT_EQ(published[0].kind(), StoreEvent::FLAGS_CHANGED);
  EXPECT_EQ(published[0].event_id(), "alice/INBOX/5/7@100/flags");
  EXPECT_EQ(published[0].flags(0), "\\Seen");
  // The whole user is baselined, so the next full run reports no spurious creations.
  EXPECT_EQ(state.users["alice"].size(), 2u);
  published.clear();
  EXPECT_TRUE(reconciler().reconcile("alice").ok);
  EXPECT_TRUE(published.empty());
}

TEST_F(ReconcilerTest, UnchangedMailboxesAreNotSelected) {
  state.users["alice"]["INBOX"] = {5, 100, 20};
  store.boxes = {{"INBOX", status(5, 100, 20)}};
  auto r = reconciler().reconcile("alice");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.changes, 0u);
  EXPECT_TRUE(store.asked.empty());
  EXPECT_EQ(state.saves, 0);
}

TEST_F(ReconcilerTest, NewFlagsAndExpungesSinceLastModseq) {
  state.users["alice"]["INBOX"] = {5, 100, 20};
  store.boxes = {{"INBOX", status(5, 130, 22)}};
  MailboxChanges ch;
  ch.status = status(5, 130, 22);
  ch.changed = {{21, 130, {"\\Recent"}, std::nullopt}, {12, 110, {"\\Seen", "\\Flagged"}, std::nullopt}};
  // 20 arrived and went since the last run: a hook may have told devices of it (issue #5), so it is
  // an expunge too.
  ch.vanished = {7, 3, 20};
  store.changes["INBOX"] = ch;

  auto r = reconciler().reconcile("alice");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(store.asked.size(), 1u);
  EXPECT_EQ(store.asked[0].second, (MailboxState{5, 100, 20}));  // QRESYNC from the last published point
  EXPECT_EQ(ids(), (std::vector<std::string>{"alice/INBOX/5/12@110/flags", "alice/INBOX/5/21/new",
                                             "alice/INBOX/5/3/expunged", "alice/INBOX/5/7/expunged",
                                             "alice/INBOX/5/20/expunged"}));
  EXPECT_EQ(published[1].stale_if_seen(), "alice/INBOX/5/21/expunged");
  EXPECT_EQ(published[0].kind(), StoreEvent::FLAGS_CHANGED);
  EXPECT_EQ(published[0].flags_size(), 2);
  EXPECT_EQ(published[1].kind(), StoreEvent::MESSAGE_NEW);
  EXPECT_EQ(published[1].messages(0).uid(), 21u);
  EXPECT_EQ(published[1].modseq(), 130u);
  EXPECT_EQ(published[1].source(), "reconcile");
  EXPECT_EQ(published[1].status().uidnext(), 22u);
  EXPECT_EQ(state.users["alice"]["INBOX"], (MailboxState{5, 130, 22}));
}

// A message that arrived and was flagged before this run (a STORE right after the delivery): a
// device told of it by the delivery's hook skips the NEW as known, so the flags are said again as a
// flag change right after it (\Recent is not a flag a device is told).
TEST_F(ReconcilerTest, NewMessageAlreadyFlaggedIsAlsoAFlagChange) {
  state.users["alice"]["INBOX"] = {5, 100, 20};
  store.boxes = {{"INBOX", status(5, 131, 22)}};
  MailboxChanges ch;
  ch.status = status(5, 131, 22);
  ch.changed = {{21, 131, {"\\Recent", "\\Flagged"}, std::nullopt}};
  store.changes["INBOX"] = ch;

  auto r = reconciler().reconcile("alice");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(ids(), (std::vector<std::string>{"alice/INBOX/5/21/new", "alice/INBOX/5/21@131/flags"}));
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[1].kind(), StoreEvent::FLAGS_CHANGED);
  ASSERT_EQ(published[1].flags_size(), 1);
  EXPECT_EQ(published[1].flags(0), "\\Flagged");
  EXPECT_EQ(published[1].modseq(), 131u);
}

TEST_F(ReconcilerTest, UidvalidityChangeRequiresResync) {
  state.users["alice"]["INBOX"] = {5, 100, 20};
  store.boxes = {{"INBOX", status(9, 1, 1)}};
  auto r = reconciler().reconcile("alice");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].kind(), StoreEvent::RESYNC_REQUIRED);
  EXPECT_EQ(published[0].uidvalidity(), 9u);
  EXPECT_TRUE(store.asked.empty());
  EXPECT_EQ(state.users["alice"]["INBOX"].uidvalidity, 9u);
}

TEST_F(ReconcilerTest, MailboxCreatedDeletedAndRenamed) {
  state.users["alice"] = {{"INBOX", {5, 10, 2}}, {"Work", {7, 3, 1}}, {"Old", {8, 4, 1}}};
  store.boxes = {{"INBOX", status(5, 10, 2)}, {"Jobs", status(7, 3, 1)}, {"New", status(11, 1, 1)}};
  auto r = reconciler().reconcile("alice");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(ids(), (std::vector<std::string>{"alice/Jobs/7/renamed-from/Work", "alice/New/11/created",
                                             "alice/Old/8/deleted"}));
  EXPECT_EQ(state.users["alice"].count("Work"), 0u);
  EXPECT_EQ(state.users["alice"].count("Jobs"), 1u);
}

TEST_F(ReconcilerTest, PublishFailureKeepsStateSoTheNextRunRepeats) {
  state.users["alice"]["INBOX"] = {5, 100, 20};
  store.boxes = {{"INBOX", status(5, 101, 21)}};
  MailboxChanges ch;
  ch.status = status(5, 101, 21);
  ch.changed = {{20, 101, {}, std::nullopt}};
  store.changes["INBOX"] = ch;
  publish_error = kafka::Error::make(kafka::ErrorKind::timed_out, "broker down");
  auto r = reconciler().reconcile("alice");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("broker down"), std::string::npos);
  EXPECT_EQ(state.users["alice"]["INBOX"], (MailboxState{5, 100, 20}));

  publish_error = {};
  auto again = reconciler().reconcile("alice");
  ASSERT_TRUE(again.ok) << again.error;
  EXPECT_EQ(ids(), std::vector<std::string>{"alice/INBOX/5/20/new"});
  EXPECT_EQ(state.users["alice"]["INBOX"], (MailboxState{5, 101, 21}));
}

TEST_F(ReconcilerTest, StoreDownIsAnErrorNotABaseline) {
  state.users["alice"]["INBOX"] = {5, 100, 20};
  store.fail = true;
  auto r = reconciler().reconcile("alice");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("connection refused"), std::string::npos);
  EXPECT_EQ(state.saves, 0);
}

TEST_F(ReconcilerTest, OnDemandSubsetLeavesOtherMailboxesAlone) {
  state.users["alice"] = {{"INBOX", {5, 100, 20}}, {"Sent", {6, 1, 1}}};
  store.boxes = {{"INBOX", status(5, 101, 20)}, {"Sent", status(6, 9, 3)}};
  MailboxChanges ch;
  ch.status = status(5, 101, 20);
  ch.changed = {{4, 101, {"\\Seen"}, std::nullopt}};
  store.changes["INBOX"] = ch;
  auto r = reconciler().reconcile("alice", {"INBOX"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(ids(), std::vector<std::string>{"alice/INBOX/5/4@101/flags"});
  EXPECT_EQ(state.users["alice"]["Sent"], (MailboxState{6, 1, 1}));
}

}  // namespace
}  // namespace pimap::store_watcher
