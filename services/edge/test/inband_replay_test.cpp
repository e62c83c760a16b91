// What a resumed session replays (profile §3) and how batches render (profile §4): exact lines over
// the view another edge saved, STATUS coalescing, and the NEW_FORMAT FETCH placement.

#include "event_renderer.hpp"
#include "inband_delivery.hpp"

#include <pimap/deviceview/device_view.hpp>

#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <string>

namespace pimap::edge {
namespace {

using K = v1::StoreEvent;

void add(google::protobuf::RepeatedPtrField<v1::QueuedEvent>& events, std::uint64_t seq, K::Kind kind,
         std::string mailbox, std::initializer_list<std::uint32_t> uids, std::uint32_t uidnext = 0) {
  auto* q = events.Add();
  q->set_seq(seq);
  auto* e = q->mutable_event();
  e->set_kind(kind);
  e->set_mailbox(std::move(mailbox));
  e->set_uidvalidity(7);
  for (auto u : uids) e->add_uids(u);
  if (uidnext != 0) {
    e->mutable_status()->set_messages(uidnext - 1);
    e->mutable_status()->set_uidnext(uidnext);
  }
}

// A store session that only keeps what the resume tells it.
class FakeStore final : public StoreSession {
 public:
  void execute(std::string, Untagged, Done) override {}
  void park() override {}
  void close() override {}
  std::vector<std::string> capabilities() const override { return {}; }
  void view_added(std::uint32_t uid) override { restored->mailbox->uids.add(uid); }
  void view_removed(std::uint32_t uid) override { restored->mailbox->uids.remove(uid); }
  void restore_device_view(const DeviceView& v) override { restored = v; }
  bool enabled(std::string_view atom) const override {
    return restored && std::find(restored->enabled.begin(), restored->enabled.end(), atom) != restored->enabled.end();
  }
  std::optional<DeviceView> restored;
};

DeviceView inbox_view(std::initializer_list<std::uint32_t> uids, std::vector<std::string> enabled = {}) {
  DeviceView v;
  v.enabled = std::move(enabled);
  v.mailbox = DeviceView::Mailbox{"INBOX", "SELECT INBOX\r\n", 7, MailboxView::from_uids(uids), 0, {}};
  return v;
}

SessionOpen resumed_in_inbox(const DeviceView& saved) {
  SessionOpen s;
  s.ok = true;
  s.resumed = true;
  s.selected = true;
  s.folder = "INBOX";
  s.session_id = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  s.view = encode_view(saved);
  return s;
}

TEST(PlanResume, AFlagChangeTheDevicesFetchShowedIsNotReplayed) {
  DeviceView saved = inbox_view({1, 2, 3}, {"CONDSTORE"});
  saved.mailbox->modseq_floor = 50;
  saved.mailbox->shown_modseqs = {{2, 55}};
  SessionOpen s = resumed_in_inbox(saved);
  add(s.pending, 5, K::FLAGS_CHANGED, "INBOX", {2});
  s.pending.Mutable(0)->mutable_event()->set_modseq(55);
  add(s.pending, 6, K::FLAGS_CHANGED, "INBOX", {2});
  s.pending.Mutable(1)->mutable_event()->set_modseq(57);
  s.pending.Mutable(1)->mutable_event()->add_flags("\\Seen");
  FakeStore store;
  const ResumePlan plan = plan_resume(s, store);
  EXPECT_EQ(plan.replay.lines, "* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (57))\r\n");
}

TEST(RenderEvents, OtherMailboxGetsOneStatusFromItsLastChange) {
  google::protobuf::RepeatedPtrField<v1::QueuedEvent> events;
  add(events, 1, K::MESSAGE_NEW, "Work", {5}, 6);
  add(events, 2, K::MESSAGE_NEW, "INBOX", {4});
  add(events, 3, K::MESSAGE_NEW, "Work", {6}, 7);
  MailboxView view = MailboxView::from_uids({1, 2, 3});
  Rendered r;
  render_events(events, RenderOptions{"INBOX", false, false}, &view, r);
  EXPECT_EQ(r.lines, "* 4 EXISTS\r\n* 1 RECENT\r\n* STATUS \"Work\" (MESSAGES 6 UIDNEXT 7 UNSEEN 0)\r\n");
}

TEST(RenderEvents, NewMessagesReportedOutOfUidOrderAreAllAppended) {
  google::protobuf::RepeatedPtrField<v1::QueuedEvent> events;
  add(events, 1, K::MESSAGE_NEW, "INBOX", {64});
  add(events, 2, K::MESSAGE_NEW, "INBOX", {65});
  add(events, 3, K::MESSAGE_NEW, "INBOX", {62, 63});
  MailboxView view = MailboxView::from_uids({1});
  Rendered r;
  render_events(events, RenderOptions{"INBOX", true, false}, &view, r);
  EXPECT_EQ(r.lines, "* 4 EXISTS\r\n* 5 EXISTS\r\n");
  EXPECT_EQ(r.changes, (std::vector<ViewChange>{{true, 62}, {true, 63}, {true, 64}, {true, 65}}));
  EXPECT_EQ(view, MailboxView::from_uids({1, 62, 63, 64, 65}));
}

TEST(RenderEvents, EventOfAnotherUidvalidityIsAScopedResync) {
  google::protobuf::RepeatedPtrField<v1::QueuedEvent> events;
  add(events, 1, K::MESSAGE_NEW, "INBOX", {4});
  MailboxView view = MailboxView::from_uids({1});
  RenderOptions o{"INBOX", false, false};
  o.uidvalidity = 8;
  Rendered r;
  render_events(events, o, &view, r);
  EXPECT_EQ(r.lines, "* FOLDER \"INBOX\"\r\n* RESYNC\r\n");
  EXPECT_EQ(view.size(), 1u);
}

TEST(RenderEvents, NewFormatFetchGoesRightAfterItsExistsWithTheDevicesNumber) {
  google::protobuf::RepeatedPtrField<v1::QueuedEvent> events;
  add(events, 1, K::MESSAGE_NEW, "INBOX", {20});
  add(events, 2, K::MESSAGE_EXPUNGED, "INBOX", {1});
  MailboxView view = MailboxView::from_uids({1, 2});
  Rendered r;
  render_events(events, RenderOptions{"INBOX", false, false}, &view, r);
  ASSERT_EQ(r.arrivals.size(), 1u);
  EXPECT_EQ(r.arrivals[0].seq, 3u);
  const std::string out = with_arrival_fetches(r, [](std::uint32_t uid) {
    // The store numbers its own connection (here 41); the device has the message as number 3.
    return uid == 20 ? std::vector<std::string>{"* 41 FETCH (UID 20 FLAGS (\\Seen))\r\n"} : std::vector<std::string>{};
  });
  EXPECT_EQ(out, "* 3 EXISTS\r\n* 1 RECENT\r\n* 3 FETCH (UID 20 FLAGS (\\Seen))\r\n* 1 EXPUNGE\r\n");
  EXPECT_EQ(with_arrival_fetches(r, [](std::uint32_t) { return std::vector<std::string>{}; }), r.lines);
}

// "3,5:7" contains 6.
bool in_set(const std::string& set, std::uint32_t uid) {
  std::size_t at = 0;
  while (at < set.size()) {
    auto end = set.find(',', at);
    if (end == std::string::npos) end = set.size();
    const std::string part = set.substr(at, end - at);
    const auto colon = part.find(':');
    const auto lo = static_cast<std::uint32_t>(std::stoul(part.substr(0, colon)));
    const auto hi = colon == std::string::npos ? lo : static_cast<std::uint32_t>(std::stoul(part.substr(colon + 1)));
    if (uid >= lo && uid <= hi) return true;
    at = end + 1;
  }
  return false;
}

// A store whose selected mailbox holds `uids`: fetch_aside answers a `UID FETCH` over them, or fails.
class AsideStore final : public StoreSession {
 public:
  void execute(std::string, Untagged, Done) override {}
  void park() override {}
  void close() override {}
  std::vector<std::string> capabilities() const override { return {}; }
  void fetch_aside(std::string uid_set, std::string attributes, OnFetch on_fetch,
                   std::function<void(bool ok)> done) override {
    asked.push_back(uid_set + " " + attributes);
    if (!reachable) return done(false);
    for (auto uid : uids) {
      if (in_set(uid_set, uid)) on_fetch(uid, "* 9 FETCH (UID " + std::to_string(uid) + ")\r\n");
    }
    done(true);
  }
  std::vector<std::uint32_t> uids;
  bool reachable = true;
  std::vector<std::string> asked;
};

std::string deliver(const std::shared_ptr<AsideStore>& store, std::string new_format = "") {
  // Device holds 1 and 5; live hooks say 3 (below 5) and then 6.
  google::protobuf::RepeatedPtrField<v1::QueuedEvent> events;
  add(events, 1, K::MESSAGE_NEW, "INBOX", {3});
  add(events, 2, K::MESSAGE_NEW, "INBOX", {6});
  for (auto& q : events) q.mutable_event()->set_source("push_notification");
  MailboxView view = MailboxView::from_uids({1, 5});
  Rendered r;
  render_events(events, RenderOptions{"INBOX", false, false}, &view, r);
  std::string out = "(not written)";
  write_with_new_format(store, new_format, std::move(r), [&](std::string lines) { out = std::move(lines); });
  return out;
}

TEST(Delivery, ALiveLowerUidTheStoreStillHasIsAScopedResyncAfterWhatCouldBePlaced) {
  auto store = std::make_shared<AsideStore>();
  store->uids = {1, 3, 5, 6};  // two deliveries committed at once; their hooks crossed
  EXPECT_EQ(deliver(store), "* 3 EXISTS\r\n* 1 RECENT\r\n* FOLDER INBOX\r\n* RESYNC\r\n");
  EXPECT_EQ(store->asked, std::vector<std::string>{"3 (UID)"});
}

TEST(Delivery, ALiveLowerUidTheStoreNoLongerHasWasAnEcho) {
  auto store = std::make_shared<AsideStore>();
  store->uids = {1, 5, 6};  // the device's own APPEND of 3, EXPUNGEd since
  EXPECT_EQ(deliver(store), "* 3 EXISTS\r\n* 1 RECENT\r\n");
}

TEST(Delivery, ACheckThatCannotRunIsAResyncNotASilentGap) {
  auto store = std::make_shared<AsideStore>();
  store->reachable = false;
  EXPECT_EQ(deliver(store), "* 3 EXISTS\r\n* 1 RECENT\r\n* FOLDER INBOX\r\n* RESYNC\r\n");
}

TEST(Delivery, NewFormatFetchStillFollowsItsExistsWhenAResyncIsAppended) {
  auto store = std::make_shared<AsideStore>();
  store->uids = {1, 3, 5, 6};
  EXPECT_EQ(deliver(store, "(UID)"),
            "* 3 EXISTS\r\n* 1 RECENT\r\n* 3 FETCH (UID 6)\r\n* FOLDER INBOX\r\n* RESYNC\r\n");
  EXPECT_EQ(store->asked, (std::vector<std::string>{"3 (UID)", "6 (UID)"}));
}

TEST(NewFormatPreference, NoneOrEmptyMeansNoFetch) {
  EXPECT_FALSE(wants_new_format(""));
  EXPECT_FALSE(wants_new_format("NONE"));
  EXPECT_FALSE(wants_new_format("none"));
  EXPECT_TRUE(wants_new_format("(UID FLAGS)"));
}

TEST(PlanResume, ReplaysPendingEventsOverTheSavedViewAndKeepsItInStep) {
  SessionOpen s = resumed_in_inbox(inbox_view({1, 2, 3}));
  add(s.pending, 5, K::MESSAGE_EXPUNGED, "INBOX", {2});
  add(s.pending, 6, K::MESSAGE_NEW, "INBOX", {4, 5});
  add(s.pending, 7, K::FLAGS_CHANGED, "INBOX", {4});
  s.pending.Mutable(2)->mutable_event()->add_flags("\\Seen");
  FakeStore store;
  const ResumePlan plan = plan_resume(s, store);
  EXPECT_EQ(plan.head, "* SESSION SELECTED\r\n* FOLDER INBOX\r\n");
  EXPECT_EQ(plan.replay.lines,
            "* 2 EXPUNGE\r\n* 4 EXISTS\r\n* 2 RECENT\r\n* 3 FETCH (UID 4 FLAGS (\\Seen))\r\n");
  EXPECT_TRUE(plan.view_restored);
  ASSERT_TRUE(store.restored && store.restored->mailbox);
  EXPECT_EQ(store.restored->mailbox->uids, MailboxView::from_uids({1, 3, 4, 5}));
}

TEST(PlanResume, ALateLowerUidInTheReplayIsAScopedResyncNotASilentGap) {
  // The store-watcher's reconcile republished mail it missed (UID 3) after the device was told 5.
  SessionOpen s = resumed_in_inbox(inbox_view({1, 2, 5}));
  add(s.pending, 8, K::MESSAGE_NEW, "INBOX", {3});
  s.pending.Mutable(s.pending.size() - 1)->mutable_event()->set_source("reconcile");
  FakeStore store;
  const ResumePlan plan = plan_resume(s, store);
  EXPECT_EQ(plan.head, "* SESSION SELECTED\r\n* FOLDER INBOX\r\n");
  EXPECT_EQ(plan.replay.lines, "* FOLDER \"INBOX\"\r\n* RESYNC\r\n");
  ASSERT_TRUE(store.restored && store.restored->mailbox);
  EXPECT_EQ(store.restored->mailbox->uids, MailboxView::from_uids({1, 2, 5}));  // 3 was never told
}

TEST(PlanResume, VanishedWhenTheSavedViewHadQresyncEnabled) {
  SessionOpen s = resumed_in_inbox(inbox_view({1, 2, 3}, {"CONDSTORE", "QRESYNC"}));
  add(s.pending, 1, K::MESSAGE_EXPUNGED, "INBOX", {2, 3});
  FakeStore store;
  EXPECT_EQ(plan_resume(s, store).replay.lines, "* VANISHED 2:3\r\n");
}

TEST(PlanResume, SelectedWithoutAKnownViewIsAScopedResync) {
  SessionOpen s = resumed_in_inbox(inbox_view({1}));
  s.view.clear();
  add(s.pending, 1, K::MESSAGE_NEW, "INBOX", {4});
  FakeStore store;
  const ResumePlan plan = plan_resume(s, store);
  EXPECT_EQ(plan.head, "* SESSION SELECTED\r\n* FOLDER INBOX\r\n* RESYNC\r\n");
  EXPECT_EQ(plan.replay.lines, "");
  EXPECT_FALSE(plan.view_restored);
}

TEST(PlanResume, ViewOfAnotherFolderIsNotUsed) {
  DeviceView other = inbox_view({1});
  other.mailbox->name = "Work";
  SessionOpen s = resumed_in_inbox(other);
  FakeStore store;
  EXPECT_EQ(plan_resume(s, store).head, "* SESSION SELECTED\r\n* FOLDER INBOX\r\n* RESYNC\r\n");
}

TEST(PlanResume, AuthenticatedReplaysStatusOnly) {
  SessionOpen s;
  s.ok = s.resumed = true;
  s.view = encode_view(DeviceView{});
  add(s.pending, 3, K::MESSAGE_NEW, "INBOX", {4}, 5);
  add(s.pending, 4, K::MESSAGE_NEW, "INBOX", {5}, 6);
  FakeStore store;
  const ResumePlan plan = plan_resume(s, store);
  EXPECT_EQ(plan.head, "* SESSION AUTHENTICATED\r\n");
  EXPECT_EQ(plan.replay.lines, "* STATUS \"INBOX\" (MESSAGES 5 UIDNEXT 6 UNSEEN 0)\r\n");
}

TEST(PlanResume, LostEventsAreResyncInsteadOfTheReplay) {
  SessionOpen s = resumed_in_inbox(inbox_view({1}));
  s.resync = true;
  add(s.pending, 9, K::MESSAGE_NEW, "INBOX", {4});
  FakeStore store;
  const ResumePlan plan = plan_resume(s, store);
  EXPECT_EQ(plan.head, "* SESSION SELECTED\r\n* FOLDER INBOX\r\n* RESYNC\r\n");
  EXPECT_EQ(plan.replay.lines, "");
}

TEST(PlanResume, FirstLoginSaysNothing) {
  SessionOpen s;
  s.ok = true;
  FakeStore store;
  const ResumePlan plan = plan_resume(s, store);
  EXPECT_EQ(plan.head, "");
  EXPECT_FALSE(store.restored);
}

}  // namespace
}  // namespace pimap::edge
