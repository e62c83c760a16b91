#include "event_id.hpp"

#include <gtest/gtest.h>

namespace pimap::store_watcher {
namespace {

using pimap::v1::StoreEvent;

StoreEvent ev(StoreEvent::Kind kind, std::string mailbox = "INBOX", std::uint32_t uid = 7) {
  StoreEvent e;
  e.set_user("alice");
  e.set_mailbox(std::move(mailbox));
  e.set_uidvalidity(1700000000);
  e.set_kind(kind);
  if (uid != 0) e.add_uids(uid);
  return e;
}

TEST(EventId, MessageIdsNameUidAndKind) {
  EXPECT_EQ(make_event_id(ev(StoreEvent::MESSAGE_NEW)), "alice/INBOX/1700000000/7/new");
  EXPECT_EQ(make_event_id(ev(StoreEvent::MESSAGE_EXPUNGED)), "alice/INBOX/1700000000/7/expunged");
}

// A NEW or flag change is stale once the device has the message's expunge (events.proto stale_if_seen);
// other kinds never are.
TEST(EventId, MessageNewAndFlagsAreStaleOnceTheExpungeIsSeen) {
  for (auto kind : {StoreEvent::MESSAGE_NEW, StoreEvent::FLAGS_CHANGED}) {
    auto e = ev(kind, "Archive/2024");
    e.set_modseq(42);
    assign_event_id(e);
    EXPECT_EQ(e.stale_if_seen(), "alice/Archive%2F2024/1700000000/7/expunged");
    EXPECT_EQ(e.stale_if_seen(), make_event_id(ev(StoreEvent::MESSAGE_EXPUNGED, "Archive/2024")));
  }
  for (auto kind : {StoreEvent::MESSAGE_EXPUNGED, StoreEvent::MAILBOX_CREATED, StoreEvent::RESYNC_REQUIRED}) {
    auto e = ev(kind);
    assign_event_id(e);
    EXPECT_EQ(e.stale_if_seen(), "") << e.event_id();
  }
}

TEST(EventId, SameChangeFromAnySourceHasSameId) {
  auto hook = ev(StoreEvent::MESSAGE_NEW);
  hook.set_source("push_notification");
  hook.set_observed_unix_us(1);
  auto rec = ev(StoreEvent::MESSAGE_NEW);
  rec.set_source("reconcile");
  rec.set_modseq(99);  // the reconciler knows the MODSEQ, the OX hook does not
  rec.set_observed_unix_us(2);
  EXPECT_EQ(make_event_id(hook), make_event_id(rec));
}

TEST(EventId, FlagsUseModseqWhenKnown) {
  auto e = ev(StoreEvent::FLAGS_CHANGED);
  e.set_modseq(42);
  e.add_flags("\\Seen");
  EXPECT_EQ(make_event_id(e), "alice/INBOX/1700000000/7@42/flags");
  auto later = e;
  later.set_modseq(43);
  EXPECT_NE(make_event_id(e), make_event_id(later));
}

TEST(EventId, FlagsWithoutModseqHashTheSetOrderAndCaseInsensitively) {
  auto a = ev(StoreEvent::FLAGS_CHANGED);
  a.add_flags("\\Seen");
  a.add_flags("$Label1");
  auto b = ev(StoreEvent::FLAGS_CHANGED);
  b.add_flags("$Label1");
  b.add_flags("\\SEEN");
  EXPECT_EQ(make_event_id(a), make_event_id(b));
  auto c = ev(StoreEvent::FLAGS_CHANGED);
  c.add_flags("\\Seen");
  EXPECT_NE(make_event_id(a), make_event_id(c));
  EXPECT_EQ(make_event_id(a).rfind("alice/INBOX/1700000000/7/flags=", 0), 0u);
}

TEST(EventId, SlashesInNamesCannotShiftSegments) {
  auto nested = ev(StoreEvent::MESSAGE_NEW, "Archive/2024");
  EXPECT_EQ(make_event_id(nested), "alice/Archive%2F2024/1700000000/7/new");
  EXPECT_EQ(escape_segment("100%/x"), "100%25%2Fx");
}

TEST(EventId, MailboxEvents) {
  auto created = ev(StoreEvent::MAILBOX_CREATED, "Work", 0);
  EXPECT_EQ(make_event_id(created), "alice/Work/1700000000/created");
  auto deleted = ev(StoreEvent::MAILBOX_DELETED, "Work", 0);
  EXPECT_EQ(make_event_id(deleted), "alice/Work/1700000000/deleted");
  auto renamed = ev(StoreEvent::MAILBOX_RENAMED, "Jobs", 0);
  renamed.set_old_mailbox("Work/Old");
  EXPECT_EQ(make_event_id(renamed), "alice/Jobs/1700000000/renamed-from/Work%2FOld");
  auto resync = ev(StoreEvent::RESYNC_REQUIRED, "INBOX", 0);
  EXPECT_EQ(make_event_id(resync), "alice/INBOX/1700000000/resync");
}

TEST(EventId, AccountWideResyncsAreDistinct) {
  StoreEvent a;
  a.set_user("alice");
  a.set_kind(StoreEvent::RESYNC_REQUIRED);
  a.set_observed_unix_us(10);
  auto b = a;
  b.set_observed_unix_us(11);
  EXPECT_NE(make_event_id(a), make_event_id(b));
}

}  // namespace
}  // namespace pimap::store_watcher
