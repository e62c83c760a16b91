#include "wakeup_message.hpp"

#include <pimap/emn/text.hpp>

#include <gtest/gtest.h>

namespace pimap::notifier {
namespace {

using namespace std::chrono;

v1::StoreEvent event(v1::StoreEvent::Kind kind, std::initializer_list<std::uint32_t> uids) {
  v1::StoreEvent e;
  e.set_event_id("x");
  e.set_user("user01@example.test");
  e.set_mailbox("INBOX");
  e.set_kind(kind);
  for (auto u : uids) e.add_uids(u);
  return e;
}

TEST(ExtendedFormat, NamesTheEventAndTheOneUid) {
  EXPECT_EQ(extended_message(event(v1::StoreEvent::MESSAGE_NEW, {42}), 7, false),
            "_%$P-IMAP$%_ 7 user01@example.test NEW_MESSAGE 42");
  EXPECT_EQ(extended_message(event(v1::StoreEvent::MESSAGE_EXPUNGED, {3}), 8, false),
            "_%$P-IMAP$%_ 8 user01@example.test DELETED_MESSAGE 3");
  EXPECT_EQ(extended_message(event(v1::StoreEvent::FLAGS_CHANGED, {3, 4}), 9, false),
            "_%$P-IMAP$%_ 9 user01@example.test CHANGED_MESSAGE");
  EXPECT_EQ(extended_message(event(v1::StoreEvent::MAILBOX_CREATED, {}), 10, false),
            "_%$P-IMAP$%_ 10 user01@example.test STATE_COMPARISON_SYNC");
  EXPECT_EQ(extended_message(event(v1::StoreEvent::RESYNC_REQUIRED, {}), 11, false),
            "_%$P-IMAP$%_ 11 user01@example.test STATE_COMPARISON_SYNC");
}

TEST(ExtendedFormat, StateComparisonWhenTheQueueCannotHelp) {
  EXPECT_EQ(extended_message(event(v1::StoreEvent::MESSAGE_NEW, {42}), 0, true),
            "_%$P-IMAP$%_ 0 user01@example.test STATE_COMPARISON_SYNC");
}

TEST(ExtendedFormat, CarriesNothingAboutTheMessage) {
  auto e = event(v1::StoreEvent::MESSAGE_NEW, {5});
  auto* m = e.add_messages();
  m->set_uid(5);
  m->set_subject("Secret merger plans");
  m->set_from("ceo@example.test");
  const auto text = extended_message(e, 1, false);
  EXPECT_EQ(text.find("Secret"), std::string::npos);
  EXPECT_EQ(text.find("ceo@"), std::string::npos);
}

TEST(Emn, MailboxAndTimestampFromTheEvent) {
  auto e = event(v1::StoreEvent::MESSAGE_NEW, {1});
  e.set_user("user01");
  const auto t = sys_days{2026y / 11 / 27} + 10h + 1min + 2s;
  e.set_store_time_unix_us(duration_cast<microseconds>(t.time_since_epoch()).count() + 999'999);
  const auto n = emn_for(e, "example.test", system_clock::now());
  EXPECT_EQ(n.mailbox, "mailat:user01@example.test");
  EXPECT_EQ(n.timestamp, t);
  EXPECT_EQ(emn::to_text(n), R"(<emn mailbox="mailat:user01@example.test" timestamp="2026-11-27T10:01:02Z"/>)");

  e.set_user("bob@other.test");
  EXPECT_EQ(emn_for(e, "example.test", system_clock::now()).mailbox, "mailat:bob@other.test");

  e.set_store_time_unix_us(0);
  e.set_observed_unix_us(duration_cast<microseconds>(t.time_since_epoch()).count());
  EXPECT_EQ(emn_for(e, "", system_clock::now()).timestamp, t);
  e.set_observed_unix_us(0);
  EXPECT_EQ(emn_for(e, "", system_clock::time_point(t + 5s)).timestamp, t + 5s);
}

}  // namespace
}  // namespace pimap::notifier
