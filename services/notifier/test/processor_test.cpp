#include "processor.hpp"

#include "metrics_probe.hpp"

#include <pimap/emn/text.hpp>
#include <pimap/redis/testing/redis_server.hpp>
#include <pimap/sessionstore/attach_registry.hpp>
#include <pimap/sessionstore/device_index.hpp>
#include <pimap/sessionstore/preferences.hpp>
#include <pimap/sessionstore/sessions.hpp>

#include <gtest/gtest.h>

namespace pimap::notifier {
namespace {

using namespace std::chrono_literals;
namespace ss = sessionstore;

redis::testing::RedisServer& server() {
  static redis::testing::RedisServer s;
  if (!s.running()) s.start();
  return s;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string query_value(const std::string& url, const std::string& name) {
  const auto at = url.find("&" + name + "=");
  if (at == std::string::npos) return {};
  const auto start = at + name.size() + 2;
  return url_decode(url.substr(start, url.find('&', start) - start));
}

class ProcessorTest : public ::testing::Test {
 protected:
  ProcessorTest() : pool(server().options(), 2) {}

  static Options make_options() {
    static int n = 0;
    Options o;
    o.key_prefix = "np" + std::to_string(++n);  // every test its own keys
    o.sms = SmsGatewayOptions{"http://127.0.0.1:1/cgi-bin/sendsms", "u", "secret-pw", "PIMAP"};
    o.wap = WapGatewayOptions{"http://127.0.0.1:1/wappush", "ppg.test"};
    o.mail_domain = "example.test";
    return o;
  }

  v1::StoreEvent event(const std::string& id, v1::StoreEvent::Kind kind = v1::StoreEvent::MESSAGE_NEW,
                       const std::string& mailbox = "INBOX") {
    v1::StoreEvent e;
    e.set_event_id(id);
    e.set_user(user);
    e.set_mailbox(mailbox);
    e.set_kind(kind);
    e.add_uids(7);
    e.set_store_time_unix_us(1'800'000'000'000'000);
    return e;
  }

  std::size_t queued(const ss::DeviceKey& d) {
    auto p = queue.read_after(d, 0, 100);
    EXPECT_TRUE(p) << p.error().message;
    return p ? p->events.size() : 0;
  }

  void set(const ss::DeviceKey& d, ss::PreferenceList prefs) {
    auto r = preferences.set(d, prefs);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->failed.outcome, ss::PrefOutcome::ok) << r->failed.reason;
  }

  test::MetricsProbe probe;
  Metrics metrics{probe.kit};
  redis::Pool pool;
  Options options = make_options();
  ss::Keys keys{options.key_prefix};
  std::vector<WakeupJob> jobs;
  kit::Logger log{"notifier", kit::Level::error, [](std::string_view) {}};
  std::string user = "user01";
  ss::DeviceKey phone{"user01", "Pphone"};
  ss::DeviceKey tablet{"user01", "Ptablet"};

  ss::Sessions sessions{pool, keys, ss::SessionConfig{}};
  ss::PreferenceStore preferences{pool, keys};
  ss::EventQueue queue{pool, keys, ss::QueueConfig{}};
  Processor processor{pool, options, metrics, [this](WakeupJob j) { jobs.push_back(std::move(j)); }, log};
};

TEST_F(ProcessorTest, AppendsOncePerDeviceAndIgnoresRedelivery) {
  ASSERT_TRUE(sessions.open(phone, {"edge", "tcp"}));
  ASSERT_TRUE(sessions.open(tablet, {"edge", "tcp"}));
  ASSERT_EQ(processor.process(event("e1")), Processor::Outcome::done);
  ASSERT_EQ(processor.process(event("e1")), Processor::Outcome::done);  // Kafka redelivers
  EXPECT_EQ(queued(phone), 1u);
  EXPECT_EQ(queued(tablet), 1u);
  EXPECT_EQ(probe.counter("events_appended_total"), 2);
  EXPECT_EQ(probe.counter("duplicates_total"), 2);
  auto p = queue.read_after(phone, 0, 10);
  ASSERT_TRUE(p);
  v1::StoreEvent back;
  ASSERT_TRUE(back.ParseFromString(p->events[0].payload));
  EXPECT_EQ(back.event_id(), "e1");
  EXPECT_TRUE(jobs.empty());  // no out-of-band channel
}

// A reconcile's NEW that reaches Kafka after the message's expunge hook (issue #5) is not queued, and
// the device is not woken for it.
TEST_F(ProcessorTest, ANewAfterItsExpungeIsStale) {
  ASSERT_TRUE(sessions.open(phone, {"edge", "tcp"}));
  set(phone, {{"PIMAP_OUTBAND_CHANNEL", "WAP_PUSH"}, {"PIMAP_OUTBAND_ADDRESS", "+4912345678"}});
  auto late = event("user01/INBOX/9/7/new");
  late.set_stale_if_seen("user01/INBOX/9/7/expunged");
  ASSERT_EQ(processor.process(event("user01/INBOX/9/7/expunged", v1::StoreEvent::MESSAGE_EXPUNGED)),
            Processor::Outcome::done);
  const auto woken = jobs.size();
  ASSERT_EQ(processor.process(late), Processor::Outcome::done);
  auto p = queue.read_after(phone, 0, 10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->events.size(), 1u);
  EXPECT_EQ(p->events[0].event_id, "user01/INBOX/9/7/expunged");
  EXPECT_EQ(probe.filtered("stale"), 1);
  EXPECT_EQ(probe.counter("events_appended_total"), 1);
  EXPECT_EQ(jobs.size(), woken);
}

TEST_F(ProcessorTest, UsersWithoutDevicesCostNothing) {
  ASSERT_EQ(processor.process(event("e1")), Processor::Outcome::done);
  EXPECT_EQ(probe.counter("events_appended_total"), 0);
}

TEST_F(ProcessorTest, EventAndNotificationFilters) {
  ASSERT_TRUE(sessions.open(phone, {"edge", "tcp"}));
  ASSERT_TRUE(sessions.open(tablet, {"edge", "tcp"}));
  set(tablet, {{"PIMAP_EVENT_FILTER", "NEW"}});
  ASSERT_EQ(processor.process(event("gone", v1::StoreEvent::MESSAGE_EXPUNGED)), Processor::Outcome::done);
  ASSERT_EQ(processor.process(event("work", v1::StoreEvent::MESSAGE_NEW, "Work")), Processor::Outcome::done);
  EXPECT_EQ(queued(phone), 1u);   // the expunge; Work is not selected and not INBOX
  EXPECT_EQ(queued(tablet), 0u);  // NEW only, and the new one was in Work
  EXPECT_EQ(probe.filtered("event_filter"), 1);
  EXPECT_EQ(probe.filtered("notification_filter"), 2);
}

TEST_F(ProcessorTest, SelectedFolderAtDetachAlwaysGoes) {
  auto opened = sessions.open(phone, {"edge", "tcp"});
  ASSERT_TRUE(opened);
  ss::DetachParams dp;
  dp.state = ss::SessionState::selected;
  dp.folder = "Work";
  ASSERT_TRUE(sessions.detach(phone, opened->session.id, dp));
  ASSERT_EQ(processor.process(event("work", v1::StoreEvent::FLAGS_CHANGED, "Work")), Processor::Outcome::done);
  EXPECT_EQ(queued(phone), 1u);
}

TEST_F(ProcessorTest, WapPushWakeUpCoalescedAcrossABurst) {
  ASSERT_TRUE(sessions.open(phone, {"edge", "tcp"}));
  set(phone, {{"PIMAP_OUTBAND_CHANNEL", "WAP_PUSH"}, {"PIMAP_OUTBAND_ADDRESS", "+4912345678"}});
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(processor.process(event("burst" + std::to_string(i))), Processor::Outcome::done);
  EXPECT_EQ(queued(phone), 10u);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].channel, Channel::wap_push);
  EXPECT_EQ(jobs[0].request.url, "http://127.0.0.1:1/wappush");
  EXPECT_NE(jobs[0].request.body.find("WAPPUSH=+4912345678/TYPE=PLMN@ppg.test"), std::string::npos);
  EXPECT_EQ(probe.wakeups("wap_push", "coalesced"), 9);

  // Reconnecting clears the gate: the next event wakes again once the device is gone.
  ASSERT_TRUE(sessions.open(phone, {"edge", "tcp"}));
  ASSERT_EQ(processor.process(event("after")), Processor::Outcome::done);
  EXPECT_EQ(jobs.size(), 2u);
}

TEST_F(ProcessorTest, NoWakeUpForAChangeTheDevicesSavedViewHolds) {
  // The device selected INBOX (UIDVALIDITY 5, UIDs 1:7) before it went away: a reconcile that
  // republishes UID 7's arrival (its hook came before the device existed) is queued but wakes
  // nobody; UID 8 is news.
  auto opened = sessions.open(phone, {"edge", "tcp"});
  ASSERT_TRUE(opened);
  set(phone, {{"PIMAP_OUTBAND_CHANNEL", "WAP_PUSH"}, {"PIMAP_OUTBAND_ADDRESS", "+4912345678"}});
  deviceview::DeviceView view;
  view.mailbox = deviceview::DeviceView::Mailbox{"INBOX", "SELECT INBOX\r\n", 5,
                                                 deviceview::MailboxView::from_uids({1, 2, 3, 4, 5, 6, 7}), 0, {}};
  ss::DetachParams dp;
  dp.state = ss::SessionState::selected;
  dp.folder = "INBOX";
  for (const auto& [k, v] : deviceview::encode_view(view)) dp.view.emplace(k, v);
  ASSERT_TRUE(sessions.detach(phone, opened->session.id, dp));

  auto known = event("known");
  known.set_uidvalidity(5);
  known.set_source("reconcile");
  ASSERT_EQ(processor.process(known), Processor::Outcome::done);
  EXPECT_EQ(queued(phone), 1u);
  EXPECT_TRUE(jobs.empty());
  EXPECT_EQ(probe.filtered("known"), 1);

  auto other_uidvalidity = event("other-uidvalidity");  // the view cannot speak for it
  other_uidvalidity.set_uidvalidity(6);
  ASSERT_EQ(processor.process(other_uidvalidity), Processor::Outcome::done);
  ASSERT_EQ(jobs.size(), 1u);

  auto reopened = sessions.open(phone, {"edge", "tcp"});  // clears the coalescing gate
  ASSERT_TRUE(reopened);
  ASSERT_TRUE(sessions.detach(phone, reopened->session.id, dp));
  auto fresh = event("fresh");
  fresh.set_uidvalidity(5);
  fresh.set_uids(0, 8);
  ASSERT_EQ(processor.process(fresh), Processor::Outcome::done);
  EXPECT_EQ(jobs.size(), 2u);
  EXPECT_EQ(probe.filtered("known"), 1);
}

TEST_F(ProcessorTest, NoWakeUpWhileAttached) {
  ASSERT_TRUE(sessions.open(phone, {"edge", "tcp"}));
  set(phone, {{"PIMAP_OUTBAND_CHANNEL", "SMS"}, {"PIMAP_OUTBAND_ADDRESS", "+4912345678"}});
  ss::AttachRegistry attach(pool, keys);
  ASSERT_TRUE(attach.attach(phone, {"session-1", "edge-1"}));
  ASSERT_EQ(processor.process(event("e1")), Processor::Outcome::done);
  EXPECT_EQ(queued(phone), 1u);
  EXPECT_TRUE(jobs.empty());
}

TEST_F(ProcessorTest, SmsWakeUpWithoutASessionCarriesTextualEmn) {
  set(phone, {{"PIMAP_OUTBAND_CHANNEL", "SMS"}, {"PIMAP_OUTBAND_ADDRESS", "+4912345678"}});
  ASSERT_EQ(processor.process(event("e1")), Processor::Outcome::done);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].channel, Channel::sms);
  EXPECT_EQ(query_value(jobs[0].request.url, "to"), "+4912345678");
  EXPECT_EQ(query_value(jobs[0].request.url, "password"), "secret-pw");
  auto emn = emn::parse_text(query_value(jobs[0].request.url, "text"));
  ASSERT_TRUE(emn);
  EXPECT_EQ(emn->mailbox, "mailat:user01@example.test");
  EXPECT_EQ(emn::format_timestamp(emn->timestamp), "2027-01-15T08:00:00Z");
  EXPECT_EQ(probe.filtered("no_session"), 1);
}

TEST_F(ProcessorTest, ExtendedFormatCarriesTheQueueSeq) {
  ASSERT_TRUE(sessions.open(phone, {"edge", "tcp"}));
  set(phone, {{"PIMAP_OUTBAND_CHANNEL", "SMS"}, {"PIMAP_OUTBAND_ADDRESS", "+4912345678"},
              {"PIMAP_OUTBAND_FORMAT", "EXTENDED"}});
  ASSERT_EQ(processor.process(event("e1")), Processor::Outcome::done);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(query_value(jobs[0].request.url, "text"), "_%$P-IMAP$%_ 1 user01 NEW_MESSAGE 7");
}

TEST_F(ProcessorTest, ChannelOffInThisNotifier) {
  options.sms.reset();
  set(phone, {{"PIMAP_OUTBAND_CHANNEL", "SMS"}, {"PIMAP_OUTBAND_ADDRESS", "+4912345678"}});
  ASSERT_EQ(processor.process(event("e1")), Processor::Outcome::done);
  EXPECT_TRUE(jobs.empty());
  EXPECT_EQ(probe.filtered("channel_off"), 1);
}

TEST_F(ProcessorTest, PrunesDevicesWithNothingLeft) {
  auto opened = sessions.open(phone, {"edge", "tcp"});
  ASSERT_TRUE(opened);
  ASSERT_TRUE(pool.command({"DEL", keys.session(phone)}));  // the session expired
  ASSERT_EQ(processor.process(event("e1")), Processor::Outcome::done);
  ss::DeviceIndex index(pool, keys);
  auto devices = index.devices(user);
  ASSERT_TRUE(devices);
  EXPECT_TRUE(devices->empty());
}

TEST_F(ProcessorTest, RedisOutageAsksForRetryThenCompletesWithoutDuplicates) {
  ASSERT_TRUE(sessions.open(phone, {"edge", "tcp"}));
  set(phone, {{"PIMAP_OUTBAND_CHANNEL", "SMS"}, {"PIMAP_OUTBAND_ADDRESS", "+4912345678"}});
  ASSERT_EQ(processor.process(event("e1")), Processor::Outcome::done);
  ASSERT_EQ(jobs.size(), 1u);
  // Redis dies (losing everything: no persistence in the test server) and comes back.
  server().stop();
  EXPECT_EQ(processor.process(event("e2")), Processor::Outcome::retry);
  EXPECT_GE(probe.counter("redis_errors_total"), 1);
  server().start();
  ASSERT_TRUE(sessions.open(phone, {"edge", "tcp"}));
  set(phone, {{"PIMAP_OUTBAND_CHANNEL", "SMS"}, {"PIMAP_OUTBAND_ADDRESS", "+4912345678"}});
  ASSERT_TRUE(sessions.detach(phone, sessions.lookup(phone)->value().id, {}));
  Processor::Outcome o = Processor::Outcome::retry;
  for (int i = 0; i < 50 && o == Processor::Outcome::retry; ++i) {
    o = processor.process(event("e2"));
    if (o == Processor::Outcome::retry) std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(o, Processor::Outcome::done);
  EXPECT_EQ(processor.process(event("e2")), Processor::Outcome::done);
  EXPECT_EQ(queued(phone), 1u);
  EXPECT_EQ(jobs.size(), 2u);
}

// A Kafka batch with several users' events, one of them redelivered (in the batch and from an
// earlier batch): each device's queue gets its user's events once, in batch order, and a device's
// wake-up is decided once per event.
TEST_F(ProcessorTest, BatchOfSeveralUsersKeepsOrderAndIgnoresRedelivery) {
  const ss::DeviceKey other{"user02", "Pother"};
  ASSERT_TRUE(sessions.open(phone, {"edge", "tcp"}));
  ASSERT_TRUE(sessions.open(tablet, {"edge", "tcp"}));
  ASSERT_TRUE(sessions.open(other, {"edge", "tcp"}));
  set(other, {{"PIMAP_OUTBAND_CHANNEL", "SMS"}, {"PIMAP_OUTBAND_ADDRESS", "+4912345678"}});
  ASSERT_TRUE(sessions.detach(other, sessions.lookup(other)->value().id, {}));
  ASSERT_EQ(processor.process(event("e0")), Processor::Outcome::done);  // an earlier batch
  auto for_other = [&](const std::string& id) {
    auto e = event(id);
    e.set_user("user02");
    return e;
  };
  std::vector<v1::StoreEvent> batch = {event("e1"), for_other("f1"), event("e0"), event("e2"),
                                       for_other("f2"), event("e1"), for_other("f1")};
  ASSERT_EQ(processor.process_batch(batch), Processor::Outcome::done);
  for (const auto& d : {phone, tablet}) {
    auto p = queue.read_after(d, 0, 10);
    ASSERT_TRUE(p);
    std::vector<std::string> ids;
    for (const auto& ev : p->events) ids.push_back(ev.event_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"e0", "e1", "e2"}));
  }
  auto p = queue.read_after(other, 0, 10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->events.size(), 2u);
  EXPECT_EQ(p->events[0].event_id, "f1");
  EXPECT_EQ(p->events[1].event_id, "f2");
  EXPECT_EQ(probe.counter("events_appended_total"), 2 + 4 + 2);
  EXPECT_EQ(probe.counter("duplicates_total"), 2 + 2 + 1);
  // user02's device is detached with an SMS channel: one wake-up for f1 (f2 coalesced), none for
  // the redelivered f1.
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].user, "user02");
}

}  // namespace
}  // namespace pimap::notifier
