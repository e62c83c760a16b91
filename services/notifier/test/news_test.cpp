// When a detached device's saved view proves it holds a change (no wake-up), and when it cannot.

#include "news.hpp"

#include <gtest/gtest.h>

#include <initializer_list>

namespace pimap::notifier {
namespace {

using K = v1::StoreEvent;

deviceview::DeviceView inbox(std::initializer_list<std::uint32_t> uids, std::uint64_t floor = 0) {
  deviceview::DeviceView v;
  v.mailbox = deviceview::DeviceView::Mailbox{"INBOX", "SELECT INBOX\r\n", 5, deviceview::MailboxView::from_uids(uids),
                                              floor, {}};
  return v;
}

K event(K::Kind kind, std::initializer_list<std::uint32_t> uids, std::uint64_t modseq = 0,
        const char* mailbox = "INBOX", std::uint32_t uidvalidity = 5) {
  K e;
  e.set_kind(kind);
  e.set_mailbox(mailbox);
  e.set_uidvalidity(uidvalidity);
  e.set_modseq(modseq);
  for (auto u : uids) e.add_uids(u);
  return e;
}

TEST(News, WithoutAViewOfThatMailboxEverythingIsNews) {
  EXPECT_TRUE(is_news(event(K::MESSAGE_NEW, {3}), std::nullopt));
  EXPECT_TRUE(is_news(event(K::MESSAGE_NEW, {3}), deviceview::DeviceView{}));  // nothing selected
  EXPECT_TRUE(is_news(event(K::MESSAGE_NEW, {3}, 0, "Work"), inbox({1, 2, 3})));
  EXPECT_TRUE(is_news(event(K::MESSAGE_NEW, {3}, 0, "INBOX", 6), inbox({1, 2, 3})));
  auto unknown_uidvalidity = inbox({1, 2, 3});
  unknown_uidvalidity.mailbox->uidvalidity = 0;
  EXPECT_TRUE(is_news(event(K::MESSAGE_NEW, {3}), unknown_uidvalidity));
  EXPECT_TRUE(is_news(event(K::MAILBOX_RENAMED, {}), inbox({1, 2, 3})));
  EXPECT_TRUE(is_news(event(K::RESYNC_REQUIRED, {}), inbox({1, 2, 3}, 100)));
}

TEST(News, ANewMessageAtOrBelowTheHighestUidToldIsKnown) {
  EXPECT_FALSE(is_news(event(K::MESSAGE_NEW, {3}), inbox({1, 2, 3})));
  EXPECT_FALSE(is_news(event(K::MESSAGE_NEW, {2}, 0, "inbox"), inbox({1, 3})));  // expunged before it was told
  EXPECT_TRUE(is_news(event(K::MESSAGE_NEW, {3, 4}), inbox({1, 2, 3})));
  EXPECT_TRUE(is_news(event(K::MESSAGE_NEW, {1}), inbox({})));
}

TEST(News, AnExpungeIsNewsOnlyForAMessageTheDeviceHolds) {
  EXPECT_FALSE(is_news(event(K::MESSAGE_EXPUNGED, {4, 9}), inbox({1, 2, 3})));
  EXPECT_TRUE(is_news(event(K::MESSAGE_EXPUNGED, {3, 9}), inbox({1, 2, 3})));
}

TEST(News, AChangeAtOrBelowTheSelectsHighestModseqIsKnown) {
  EXPECT_FALSE(is_news(event(K::FLAGS_CHANGED, {2}, 100), inbox({1, 2, 3}, 100)));
  EXPECT_FALSE(is_news(event(K::MESSAGE_NEW, {9}, 90), inbox({1, 2, 3}, 100)));
  EXPECT_TRUE(is_news(event(K::FLAGS_CHANGED, {2}, 101), inbox({1, 2, 3}, 100)));
  EXPECT_TRUE(is_news(event(K::FLAGS_CHANGED, {2}, 0), inbox({1, 2, 3}, 100)));  // no MODSEQ: cannot tell
}

TEST(News, AFlagChangeTheDeviceReadIsKnown) {
  auto v = inbox({1, 2, 3}, 100);
  v.mailbox->shown_modseqs = {{2, 120}, {3, 110}};
  EXPECT_FALSE(is_news(event(K::FLAGS_CHANGED, {2}, 120), v));
  EXPECT_FALSE(is_news(event(K::FLAGS_CHANGED, {2, 3}, 105), v));
  EXPECT_TRUE(is_news(event(K::FLAGS_CHANGED, {2, 3}, 115), v));
  EXPECT_TRUE(is_news(event(K::FLAGS_CHANGED, {1}, 105), v));
}

}  // namespace
}  // namespace pimap::notifier
