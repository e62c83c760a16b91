#include "filters.hpp"

#include <gtest/gtest.h>

namespace pimap::notifier {
namespace {

v1::StoreEvent event(v1::StoreEvent::Kind kind, const std::string& mailbox) {
  v1::StoreEvent e;
  e.set_event_id("u/" + mailbox + "/1/1/x");
  e.set_user("user01@example.test");
  e.set_mailbox(mailbox);
  e.set_kind(kind);
  return e;
}

DeviceState detached() {
  DeviceState d;
  d.device_id = "Pphone";
  d.has_session = true;
  return d;
}

TEST(EventFilter, AllNewNone) {
  const auto nw = event(v1::StoreEvent::MESSAGE_NEW, "INBOX");
  const auto gone = event(v1::StoreEvent::MESSAGE_EXPUNGED, "INBOX");
  const auto flags = event(v1::StoreEvent::FLAGS_CHANGED, "INBOX");
  const auto resync = event(v1::StoreEvent::RESYNC_REQUIRED, "INBOX");
  EXPECT_TRUE(passes_event_filter(gone, EventFilter::all));
  EXPECT_TRUE(passes_event_filter(nw, EventFilter::new_only));
  EXPECT_FALSE(passes_event_filter(gone, EventFilter::new_only));
  EXPECT_FALSE(passes_event_filter(flags, EventFilter::new_only));
  EXPECT_FALSE(passes_event_filter(nw, EventFilter::none));
  EXPECT_TRUE(passes_event_filter(resync, EventFilter::none));  // a RESYNC is never filtered away
  EXPECT_EQ(parse_event_filter("NEW"), EventFilter::new_only);
  EXPECT_EQ(parse_event_filter("NONE"), EventFilter::none);
  EXPECT_EQ(parse_event_filter(""), EventFilter::all);
}

TEST(NotificationFilter, DefaultIsInboxOnly) {
  EXPECT_TRUE(passes_notification_filter(event(v1::StoreEvent::MESSAGE_NEW, "INBOX")));
  EXPECT_TRUE(passes_notification_filter(event(v1::StoreEvent::MESSAGE_NEW, "inbox")));
  EXPECT_FALSE(passes_notification_filter(event(v1::StoreEvent::MESSAGE_NEW, "Work")));
  EXPECT_FALSE(passes_notification_filter(event(v1::StoreEvent::MESSAGE_NEW, "INBOX/Sub")));
  EXPECT_TRUE(passes_notification_filter(event(v1::StoreEvent::RESYNC_REQUIRED, "")));
  EXPECT_FALSE(passes_notification_filter(event(v1::StoreEvent::RESYNC_REQUIRED, "Work")));
}

TEST(Decide, InbandSelectedFolderAlwaysOtherFoldersByNotificationFilter) {
  auto d = detached();
  EXPECT_TRUE(decide(event(v1::StoreEvent::MESSAGE_NEW, "INBOX"), d).inband);
  auto other = decide(event(v1::StoreEvent::MESSAGE_NEW, "Work"), d);
  EXPECT_FALSE(other.inband);
  EXPECT_EQ(other.inband_rejected, FilterReason::notification_filter);

  d.selected = true;
  d.folder = "Work";
  EXPECT_TRUE(decide(event(v1::StoreEvent::FLAGS_CHANGED, "Work"), d).inband);
  EXPECT_FALSE(decide(event(v1::StoreEvent::FLAGS_CHANGED, "Other"), d).inband);
  auto renamed = event(v1::StoreEvent::MAILBOX_RENAMED, "Work2");
  renamed.set_old_mailbox("Work");
  EXPECT_TRUE(decide(renamed, d).inband);
  EXPECT_TRUE(decide(event(v1::StoreEvent::RESYNC_REQUIRED, "Other"), d).inband);
}

TEST(Decide, AttachedDevicesGetEveryEventPassingTheEventFilter) {
  auto d = detached();
  d.attached = true;
  EXPECT_TRUE(decide(event(v1::StoreEvent::MESSAGE_NEW, "Work"), d).inband);
  d.event_filter = EventFilter::new_only;
  auto r = decide(event(v1::StoreEvent::MESSAGE_EXPUNGED, "INBOX"), d);
  EXPECT_FALSE(r.inband);
  EXPECT_EQ(r.inband_rejected, FilterReason::event_filter);
}

TEST(Decide, NoSessionNoQueue) {
  DeviceState d;
  d.channel = OutbandChannel::sms;
  d.address = "+4912345678";
  auto r = decide(event(v1::StoreEvent::MESSAGE_NEW, "INBOX"), d);
  EXPECT_FALSE(r.inband);
  EXPECT_EQ(r.inband_rejected, FilterReason::no_session);
  EXPECT_TRUE(r.outband);  // it still wants its wake-up
}

TEST(Decide, OutbandNeedsChannelAddressNoConnectionAndBothFilters) {
  auto d = detached();
  d.channel = OutbandChannel::wap_push;
  d.address = "+4912345678";
  EXPECT_TRUE(decide(event(v1::StoreEvent::MESSAGE_NEW, "INBOX"), d).outband);
  EXPECT_FALSE(decide(event(v1::StoreEvent::MESSAGE_NEW, "Work"), d).outband);

  d.selected = true;
  d.folder = "Work";  // in band yes (selected folder), but no wake-up outside the notification filter
  auto work = decide(event(v1::StoreEvent::MESSAGE_NEW, "Work"), d);
  EXPECT_TRUE(work.inband);
  EXPECT_FALSE(work.outband);

  d.event_filter = EventFilter::new_only;
  EXPECT_FALSE(decide(event(v1::StoreEvent::FLAGS_CHANGED, "INBOX"), d).outband);
  d.event_filter = EventFilter::all;

  auto connected = d;
  connected.attached = true;
  EXPECT_FALSE(decide(event(v1::StoreEvent::MESSAGE_NEW, "INBOX"), connected).outband);
  auto no_address = d;
  no_address.address.clear();
  EXPECT_FALSE(decide(event(v1::StoreEvent::MESSAGE_NEW, "INBOX"), no_address).outband);
  auto no_channel = d;
  no_channel.channel = OutbandChannel::none;
  EXPECT_FALSE(decide(event(v1::StoreEvent::MESSAGE_NEW, "INBOX"), no_channel).outband);
}

}  // namespace
}  // namespace pimap::notifier
