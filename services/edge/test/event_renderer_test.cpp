// Store events rendered as the untagged responses a device in IDLE reads, relative to its view
// (profile §4): exact lines, and the view the device holds afterwards.

#include "event_renderer.hpp"

#include <pimap/deviceview/device_view.hpp>

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace pimap::edge {
namespace {

using deviceview::ShownModseqs;

using Kind = v1::StoreEvent::Kind;

v1::StoreEvent event(Kind kind, std::string mailbox, std::initializer_list<std::uint32_t> uids) {
  v1::StoreEvent e;
  e.set_kind(kind);
  e.set_mailbox(std::move(mailbox));
  for (auto u : uids) e.add_uids(u);
  return e;
}

Rendered render(const v1::StoreEvent& e, const RenderOptions& o, MailboxView* view) {
  Rendered out;
  render_event(e, o, view, out);
  return out;
}

RenderOptions inbox() { return RenderOptions{"INBOX", false, false}; }

TEST(EventRenderer, NewMessageInSelectedMailboxIsExistsAndRecent) {
  MailboxView view = MailboxView::from_uids({1, 2, 3});
  const Rendered r = render(event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {4}), inbox(), &view);
  EXPECT_EQ(r.lines, "* 4 EXISTS\r\n* 1 RECENT\r\n");
  EXPECT_EQ(r.changes, (std::vector<ViewChange>{{true, 4}}));
  EXPECT_TRUE(view.contains(4));
  EXPECT_EQ(view.size(), 4u);
}

TEST(EventRenderer, NewMessagesAreCountedOnceWithoutRecentUnderQresync) {
  MailboxView view = MailboxView::from_uids({10});
  const Rendered r = render(event(v1::StoreEvent::MESSAGE_NEW, "inbox", {11, 12}), {"INBOX", true, true}, &view);
  EXPECT_EQ(r.lines, "* 3 EXISTS\r\n");
  EXPECT_EQ(r.changes, (std::vector<ViewChange>{{true, 11}, {true, 12}}));
}

TEST(EventRenderer, NewMessageTheDeviceAlreadyKnowsIsNotRepeated) {
  MailboxView view = MailboxView::from_uids({1, 2, 3});
  const Rendered r = render(event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {3}), inbox(), &view);
  EXPECT_EQ(r.lines, "");
  EXPECT_TRUE(r.changes.empty());
  EXPECT_EQ(view.size(), 3u);
}

TEST(EventRenderer, NewMessageBelowTheHighestKnownUidAsksForScopedResync) {
  // A late event (the store-watcher's reconcile after an outage): 3 cannot be numbered after 5.
  MailboxView view = MailboxView::from_uids({1, 5});
  auto late = event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {3});
  late.set_source("reconcile");
  const Rendered r = render(late, inbox(), &view);
  EXPECT_EQ(r.lines, "* FOLDER \"INBOX\"\r\n* RESYNC\r\n");
  EXPECT_TRUE(r.changes.empty());
  EXPECT_FALSE(view.contains(3));
  EXPECT_EQ(view.size(), 2u);
}

TEST(EventRenderer, LiveHookForALowerUidNotInTheViewIsLeftForTheStoreToSettle) {
  // The device appended 3 and 5 and expunged 3 itself; the hook's late NEW for 3 must not cost it a
  // state comparison unless 3 still exists (the delivery asks the store: inband_replay_test).
  MailboxView view = MailboxView::from_uids({1, 5});
  auto echo = event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {3});
  echo.set_source("push_notification");
  const Rendered r = render(echo, inbox(), &view);
  EXPECT_EQ(r.lines, "");
  EXPECT_TRUE(r.changes.empty());
  EXPECT_EQ(view, MailboxView::from_uids({1, 5}));
  EXPECT_EQ(r.doubtful, std::vector<std::uint32_t>{3});
  EXPECT_EQ(r.doubtful_mailbox, "INBOX");
  // From a reconcile the same case is a RESYNC at once, with nothing left to ask.
  auto late = echo;
  late.set_source("reconcile");
  Rendered both = r;
  MailboxView again = MailboxView::from_uids({1, 5});
  render_event(late, inbox(), &again, both);
  EXPECT_TRUE(both.selected_resync);
  EXPECT_TRUE(both.doubtful.empty());
}

TEST(EventRenderer, LateLowerUidStillAppendsTheHigherOnesThenResyncsOnce) {
  MailboxView view = MailboxView::from_uids({1, 5});
  v1::SessionPush push;
  *push.add_events()->mutable_event() = event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {2, 6});
  *push.add_events()->mutable_event() = event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {4});
  push.mutable_events(1)->mutable_event()->set_source("reconcile");
  const Rendered r = render_push(push, inbox(), &view);
  EXPECT_EQ(r.lines, "* 3 EXISTS\r\n* 1 RECENT\r\n* FOLDER \"INBOX\"\r\n* RESYNC\r\n");
  EXPECT_EQ(r.changes, (std::vector<ViewChange>{{true, 6}}));
  EXPECT_EQ(view.size(), 3u);
}

TEST(EventRenderer, ExpungeNamesSequenceNumbersHighestFirst) {
  MailboxView view = MailboxView::from_uids({1, 2, 5, 7, 9});
  const Rendered r = render(event(v1::StoreEvent::MESSAGE_EXPUNGED, "INBOX", {2, 7, 8}), inbox(), &view);
  // uid 7 is message 4, uid 2 message 2; uid 8 was never known to the device.
  EXPECT_EQ(r.lines, "* 4 EXPUNGE\r\n* 2 EXPUNGE\r\n");
  EXPECT_EQ(r.changes, (std::vector<ViewChange>{{false, 7}, {false, 2}}));
  EXPECT_EQ(view, MailboxView::from_uids({1, 5, 9}));
}

TEST(EventRenderer, ExpungeIsVanishedUnderQresync) {
  MailboxView view = MailboxView::from_uids({1, 2, 3, 4});
  const Rendered r =
      render(event(v1::StoreEvent::MESSAGE_EXPUNGED, "INBOX", {2, 3, 9}), {"INBOX", true, true}, &view);
  EXPECT_EQ(r.lines, "* VANISHED 2:3\r\n");
  EXPECT_EQ(view, MailboxView::from_uids({1, 4}));
}

TEST(EventRenderer, FlagChangeIsFetchWithUidAndFlags) {
  MailboxView view = MailboxView::from_uids({3, 4, 8});
  auto e = event(v1::StoreEvent::FLAGS_CHANGED, "INBOX", {8, 5});
  e.add_flags("\\Seen");
  e.add_flags("\\Flagged");
  e.set_modseq(77);
  const Rendered r = render(e, inbox(), &view);
  EXPECT_EQ(r.lines, "* 3 FETCH (UID 8 FLAGS (\\Seen \\Flagged))\r\n");
  EXPECT_TRUE(r.changes.empty());
  const Rendered c = render(e, {"INBOX", false, true}, &view);
  EXPECT_EQ(c.lines, "* 3 FETCH (UID 8 FLAGS (\\Seen \\Flagged) MODSEQ (77))\r\n");
}

// A reconcile run's events can reach the device after a RESYNC it has already answered with a state
// comparison; what that SELECT showed (MODSEQ at or below its HIGHESTMODSEQ) is not told again.
TEST(EventRenderer, ChangesTheDevicesSelectAlreadyShowedAreNotToldAgain) {
  MailboxView view = MailboxView::from_uids({3, 4, 8});
  RenderOptions o{"INBOX", false, true};
  o.modseq_floor = 120;
  auto flags = event(v1::StoreEvent::FLAGS_CHANGED, "INBOX", {8});
  flags.add_flags("\\Seen");
  flags.set_modseq(120);
  EXPECT_EQ(render(flags, o, &view).lines, "");
  flags.set_modseq(121);
  EXPECT_EQ(render(flags, o, &view).lines, "* 3 FETCH (UID 8 FLAGS (\\Seen) MODSEQ (121))\r\n");
  flags.set_modseq(0);  // MODSEQ unknown (a hook): told
  EXPECT_EQ(render(flags, o, &view).lines, "* 3 FETCH (UID 8 FLAGS (\\Seen))\r\n");

  // New below the highest UID and not in the view: expunged before the SELECT, not a gap.
  auto gone = event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {5});
  gone.set_source("reconcile");
  gone.set_modseq(110);
  Rendered r = render(gone, o, &view);
  EXPECT_EQ(r.lines, "");
  EXPECT_TRUE(r.doubtful.empty());
  EXPECT_EQ(view.size(), 3u);
  gone.set_modseq(125);  // after the SELECT: a change the device has not seen, so a gap
  EXPECT_EQ(render(gone, o, &view).lines, "* FOLDER \"INBOX\"\r\n* RESYNC\r\n");
  // Above the floor, but no higher than what the device's own FETCH of that UID showed: not told.
  const ShownModseqs shown{{8, 130}};
  o.shown_modseqs = &shown;
  flags.set_modseq(130);
  EXPECT_EQ(render(flags, o, &view).lines, "");
  flags.set_modseq(131);
  EXPECT_EQ(render(flags, o, &view).lines, "* 3 FETCH (UID 8 FLAGS (\\Seen) MODSEQ (131))\r\n");
  o.shown_modseqs = nullptr;
  // Without a floor (CONDSTORE off) nothing changes.
  auto flags_old = event(v1::StoreEvent::FLAGS_CHANGED, "INBOX", {8});
  flags_old.set_modseq(100);
  EXPECT_EQ(render(flags_old, {"INBOX", false, true}, &view).lines, "* 3 FETCH (UID 8 FLAGS () MODSEQ (100))\r\n");
}

TEST(EventRenderer, FlagsClearedIsEmptyList) {
  MailboxView view = MailboxView::from_uids({1});
  const Rendered r = render(event(v1::StoreEvent::FLAGS_CHANGED, "INBOX", {1}), inbox(), &view);
  EXPECT_EQ(r.lines, "* 1 FETCH (UID 1 FLAGS ())\r\n");
}

TEST(EventRenderer, OtherMailboxIsStatus) {
  MailboxView view = MailboxView::from_uids({1});
  auto e = event(v1::StoreEvent::MESSAGE_NEW, "Work/Reports", {40});
  e.mutable_status()->set_messages(12);
  e.mutable_status()->set_uidnext(41);
  e.mutable_status()->set_unseen(3);
  const Rendered r = render(e, inbox(), &view);
  EXPECT_EQ(r.lines, "* STATUS \"Work/Reports\" (MESSAGES 12 UIDNEXT 41 UNSEEN 3)\r\n");
  EXPECT_EQ(view.size(), 1u);  // the selected mailbox's view is untouched
  e.mutable_status()->set_highestmodseq(900);
  EXPECT_EQ(render(e, RenderOptions{}, nullptr).lines,
            "* STATUS \"Work/Reports\" (MESSAGES 12 UIDNEXT 41 UNSEEN 3 HIGHESTMODSEQ 900)\r\n");
}

TEST(EventRenderer, PartialStatusLeavesOutTheCountsItDoesNotHave) {
  auto e = event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {7});
  e.mutable_status()->set_unseen(4);
  e.mutable_status()->set_uidvalidity(99);
  EXPECT_EQ(render(e, RenderOptions{}, nullptr).lines, "* STATUS \"INBOX\" (UNSEEN 4)\r\n");
}

TEST(EventRenderer, OtherMailboxWithoutStatusSaysNothing) {
  EXPECT_EQ(render(event(v1::StoreEvent::MESSAGE_NEW, "Sent", {2}), inbox(), nullptr).lines, "");
}

TEST(EventRenderer, SelectedMailboxWithUnknownViewAsksForScopedResync) {
  const Rendered r = render(event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {4}), inbox(), nullptr);
  EXPECT_EQ(r.lines, "* FOLDER \"INBOX\"\r\n* RESYNC\r\n");
}

TEST(EventRenderer, ResyncRequiredIsScopedWhenTheEventNamesAFolder) {
  EXPECT_EQ(render(event(v1::StoreEvent::RESYNC_REQUIRED, "Archive", {}), inbox(), nullptr).lines,
            "* FOLDER \"Archive\"\r\n* RESYNC\r\n");
  EXPECT_EQ(render(event(v1::StoreEvent::RESYNC_REQUIRED, "", {}), inbox(), nullptr).lines, "* RESYNC\r\n");
}

TEST(EventRenderer, PushRendersEventsInOrderAgainstTheUpdatedView) {
  MailboxView view = MailboxView::from_uids({1, 2});
  v1::SessionPush push;
  *push.add_events()->mutable_event() = event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {3});
  *push.add_events()->mutable_event() = event(v1::StoreEvent::MESSAGE_EXPUNGED, "INBOX", {1});
  auto flags = event(v1::StoreEvent::FLAGS_CHANGED, "INBOX", {3});
  flags.add_flags("\\Seen");
  *push.add_events()->mutable_event() = flags;
  const Rendered r = render_push(push, inbox(), &view);
  EXPECT_EQ(r.lines, "* 3 EXISTS\r\n* 1 RECENT\r\n* 1 EXPUNGE\r\n* 2 FETCH (UID 3 FLAGS (\\Seen))\r\n");
  EXPECT_EQ(r.changes, (std::vector<ViewChange>{{true, 3}, {false, 1}}));
}

TEST(EventRenderer, PushResyncReplacesItsEvents) {
  MailboxView view = MailboxView::from_uids({1});
  v1::SessionPush push;
  push.set_resync(true);
  push.set_resync_folder("INBOX");
  *push.add_events()->mutable_event() = event(v1::StoreEvent::MESSAGE_NEW, "INBOX", {2});
  const Rendered r = render_push(push, inbox(), &view);
  EXPECT_EQ(r.lines, "* FOLDER \"INBOX\"\r\n* RESYNC\r\n");
  EXPECT_EQ(view.size(), 1u);
}

}  // namespace
}  // namespace pimap::edge
