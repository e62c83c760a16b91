#include <pimap/redis/subscriber.hpp>
#include <pimap/sessionstore/attach_registry.hpp>
#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/sessions.hpp>

#include "fixture.hpp"

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using namespace pimap::sessionstore;

namespace {

class EventQueueTest : public test::StoreTest {
 protected:
  Sessions sessions{pool, keys, SessionConfig{}};
  EventQueue queue{pool, keys, QueueConfig{5, 0}};
  EventRecord event(std::string id, std::string mailbox = "INBOX") {
    return EventRecord{std::move(id), "payload", false, std::move(mailbox), {}};
  }
  EventRecord resync(std::string id, std::string mailbox) {
    return EventRecord{std::move(id), "uidvalidity changed", true, std::move(mailbox), {}};
  }
  void SetUp() override { ASSERT_TRUE(sessions.open(phone, OpenParams{"edge-a", "tcp"})); }
};

TEST_F(EventQueueTest, AppendIsIdempotentByEventId) {
  auto a = queue.append(phone, event("u1/INBOX/7/100/new"));
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->status, AppendStatus::queued);
  EXPECT_EQ(a->seq, 1u);
  auto again = queue.append(phone, event("u1/INBOX/7/100/new"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, AppendStatus::duplicate);
  EXPECT_EQ(again->seq, 1u);
  EXPECT_EQ(*queue.depth(phone), 1u);
  EXPECT_EQ(queue.append(phone, event("u1/INBOX/7/101/new"))->seq, 2u);
}

// A reconcile run's NEW published after the message's expunge hook (issue #5): the device, which has
// the expunge, must not get the message back, whether the expunge came in an earlier append, was
// acknowledged since, or came earlier in the same batch.
TEST_F(EventQueueTest, AnEventIsStaleOnceTheEventItNamesWasQueued) {
  auto stale_new = [&](std::string uid) {
    auto e = event("u1/INBOX/7/" + uid + "/new");
    e.stale_if_seen = "u1/INBOX/7/" + uid + "/expunged";
    return e;
  };
  ASSERT_EQ(queue.append(phone, event("u1/INBOX/7/100/expunged"))->status, AppendStatus::queued);
  auto r = queue.append(phone, stale_new("100"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, AppendStatus::stale);
  auto s = sessions.lookup(phone);
  ASSERT_TRUE(sessions.ack(phone, (*s)->id, 1));
  EXPECT_EQ(queue.append(phone, stale_new("100"))->status, AppendStatus::stale);

  const auto gone = event("u1/INBOX/7/101/expunged"), late = stale_new("101"), fresh = stale_new("102");
  const std::vector<AppendItem> items = {{&phone, &gone}, {&phone, &late}, {&phone, &fresh}};
  auto batch = queue.append_batch(items);
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ((*batch)[0]->status, AppendStatus::queued);
  EXPECT_EQ((*batch)[1]->status, AppendStatus::stale);
  EXPECT_EQ((*batch)[2]->status, AppendStatus::queued);  // its expunge was never seen
  auto p = queue.read_after(phone, 1, 10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->events.size(), 2u);
  EXPECT_EQ(p->events[0].event_id, "u1/INBOX/7/101/expunged");
  EXPECT_EQ(p->events[1].event_id, "u1/INBOX/7/102/new");
  EXPECT_EQ(p->events[1].seq, 3u);  // stale ones take no seq
}

TEST_F(EventQueueTest, RedeliveryAfterAckIsStillADuplicate) {
  auto s = sessions.lookup(phone);
  ASSERT_TRUE(queue.append(phone, event("a")));
  ASSERT_TRUE(queue.append(phone, event("b")));
  ASSERT_TRUE(sessions.ack(phone, (*s)->id, 2));
  EXPECT_EQ(*queue.depth(phone), 0u);
  EXPECT_EQ(queue.append(phone, event("a"))->status, AppendStatus::duplicate);
  EXPECT_EQ(*queue.depth(phone), 0u);
}

TEST_F(EventQueueTest, SequenceNumbersAreGapFreeAndReadableFromAnySeq) {
  EventQueue big(pool, keys, QueueConfig{1000, 0});
  for (int i = 1; i <= 100; ++i) {
    auto r = big.append(phone, event("e" + std::to_string(i)));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->seq, static_cast<std::uint64_t>(i));
  }
  auto all = big.read_after(phone, 0, 1000);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->events.size(), 100u);
  for (std::size_t i = 0; i < 100; ++i) EXPECT_EQ(all->events[i].seq, i + 1);
  auto tail = big.read_after(phone, 90, 1000);
  ASSERT_TRUE(tail);
  ASSERT_EQ(tail->events.size(), 10u);
  EXPECT_EQ(tail->events.front().seq, 91u);
  EXPECT_EQ(tail->events.front().event_id, "e91");
  auto limited = big.read_after(phone, 0, 7);
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->events.size(), 7u);
  EXPECT_EQ(limited->last_seq, 100u);
}

TEST_F(EventQueueTest, ConcurrentAppendersNeverShareOrSkipASeq) {
  EventQueue big(pool, keys, QueueConfig{10'000, 0});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        // Every event is sent by two threads, as a redelivering consumer would.
        ASSERT_TRUE(big.append(phone, event("e" + std::to_string((t / 2) * 50 + i))));
      }
    });
  }
  for (auto& th : threads) th.join();
  auto all = big.read_after(phone, 0, 10'000);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->events.size(), 100u);
  std::set<std::string> ids;
  for (std::size_t i = 0; i < all->events.size(); ++i) {
    EXPECT_EQ(all->events[i].seq, i + 1);
    ids.insert(all->events[i].event_id);
  }
  EXPECT_EQ(ids.size(), 100u);
}

TEST_F(EventQueueTest, OverflowReplacesTheQueueWithAResyncMarkerAndNeverBlocks) {
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(queue.append(phone, event("e" + std::to_string(i)))->status,
                                         AppendStatus::queued);
  auto over = queue.append(phone, event("e6"));
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, AppendStatus::overflow);
  EXPECT_EQ(over->seq, 6u);
  auto p = queue.read_after(phone, 0, 100);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->events.size(), 1u);
  EXPECT_TRUE(p->events[0].overflow);
  EXPECT_TRUE(p->events[0].resync);
  EXPECT_EQ(p->events[0].seq, 6u);
  EXPECT_TRUE(p->resync);
  EXPECT_EQ(p->resync_folder, "");  // every folder

  // Later events queue normally behind the marker; the resume still says RESYNC.
  EXPECT_EQ(queue.append(phone, event("e7"))->seq, 7u);
  EXPECT_EQ(queue.append(phone, event("e6"))->status, AppendStatus::duplicate);
  auto resumed = sessions.open(phone, OpenParams{"edge-b", "tcp"});
  ASSERT_TRUE(resumed);
  EXPECT_TRUE(resumed->pending.resync);
  EXPECT_EQ(resumed->pending.resync_folder, "");
  ASSERT_EQ(resumed->pending.events.size(), 2u);
  EXPECT_EQ(resumed->pending.last_seq, 7u);

  // Once the device acknowledged past the marker, the RESYNC is done.
  ASSERT_TRUE(sessions.ack(phone, resumed->session.id, 7));
  auto after = sessions.open(phone, OpenParams{"edge-b", "tcp"});
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->pending.resync);
  EXPECT_TRUE(after->pending.events.empty());
}

TEST_F(EventQueueTest, UidvalidityChangeMarksAResyncScopedToItsFolder) {
  ASSERT_TRUE(queue.append(phone, event("n1", "Work")));
  ASSERT_TRUE(queue.append(phone, resync("r1", "INBOX")));
  auto p = queue.read_after(phone, 0, 100);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->resync);
  EXPECT_EQ(p->resync_folder, "INBOX");
  ASSERT_EQ(p->events.size(), 2u);
  EXPECT_FALSE(p->events[0].resync);

  ASSERT_TRUE(queue.append(phone, resync("r2", "Work")));  // two folders: every folder
  auto both = queue.read_after(phone, 0, 100);
  ASSERT_TRUE(both);
  EXPECT_TRUE(both->resync);
  EXPECT_EQ(both->resync_folder, "");
  auto only_later = queue.read_after(phone, 2, 100);
  EXPECT_EQ(only_later->resync_folder, "Work");
}

TEST_F(EventQueueTest, NoSessionQueuesNothing) {
  DeviceKey stranger{"user02@example.test", "Pnew"};
  auto r = queue.append(stranger, event("x"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, AppendStatus::no_session);
  EXPECT_FALSE(exists(keys.queue(stranger)));
  EXPECT_FALSE(exists(keys.session(stranger)));
  auto read = queue.read_after(stranger, 0, 10);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, StoreErrc::no_session);
}

TEST_F(EventQueueTest, LastSeqsTellEachQueuesLastSeqAndZeroWithoutASession) {
  DeviceKey stranger{"user02@example.test", "Pnone"};
  DeviceKey tablet{phone.user, "Ptablet"};
  ASSERT_TRUE(sessions.open(tablet, OpenParams{"edge-a", "tcp"}));
  ASSERT_EQ(queue.append(phone, event("u1/INBOX/7/1/new"))->seq, 1u);
  ASSERT_EQ(queue.append(phone, event("u1/INBOX/7/2/new"))->seq, 2u);
  const std::vector<DeviceKey> devices{phone, stranger, tablet};
  auto seqs = queue.last_seqs(devices);
  ASSERT_TRUE(seqs) << seqs.error().message;
  EXPECT_EQ(*seqs, (std::vector<std::uint64_t>{2, 0, 0}));
  ASSERT_EQ(queue.append(tablet, event("u1/INBOX/7/2/new"))->seq, 1u);
  EXPECT_EQ(*queue.last_seqs(devices), (std::vector<std::uint64_t>{2, 0, 1}));
  EXPECT_TRUE(queue.last_seqs({})->empty());
}

TEST_F(EventQueueTest, AppendWakesTheInstanceHoldingTheDevice) {
  AttachRegistry registry(pool, keys, 30s);
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> got;
  pimap::redis::Subscriber sub(test::server().options(), {keys.wake_channel("inst-1")},
                               [&](std::string_view, std::string_view payload) {
                                 std::lock_guard l(m);
                                 got.emplace_back(payload);
                                 cv.notify_all();
                               });
  for (int i = 0; i < 200 && !sub.subscribed(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(sub.subscribed());

  auto unattached = queue.append(phone, event("e1"));
  ASSERT_TRUE(unattached);
  EXPECT_FALSE(unattached->instance.has_value());  // nobody to wake: the notifier goes out of band

  ASSERT_TRUE(registry.attach(phone, Holder{"inst-1", "edge-a"}));
  EXPECT_GT(pttl(keys.attach(phone)), 29'000);
  auto woken = queue.append(phone, event("e2"));
  ASSERT_TRUE(woken);
  ASSERT_TRUE(woken->instance.has_value());
  EXPECT_EQ(*woken->instance, "inst-1");
  {
    std::unique_lock l(m);
    ASSERT_TRUE(cv.wait_for(l, 5s, [&] { return !got.empty(); }));
    auto w = parse_wake_up(got[0]);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->device, phone);
    EXPECT_EQ(w->seq, 2u);
  }
  ASSERT_TRUE(registry.detach(phone, "inst-2"));  // not the holder: no effect
  EXPECT_EQ((*registry.holder(phone))->instance, "inst-1");
  ASSERT_TRUE(registry.detach(phone, "inst-1"));
  EXPECT_FALSE(registry.holder(phone)->has_value());
}

}  // namespace

namespace {

TEST(WakeMessages, WakeUpsAndEvictionNoticesAreToldApart) {
  const DeviceKey d{"evict", "Pdev"};
  const auto wake = format_wake_up(d, 17);
  ASSERT_TRUE(parse_wake_up(wake));
  EXPECT_EQ(parse_wake_up(wake)->seq, 17u);
  EXPECT_FALSE(parse_evict_notice(wake));
  const auto notice = format_evict_notice(d, "edge-7");
  EXPECT_FALSE(parse_wake_up(notice));
  auto n = parse_evict_notice(notice);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->device, d);
  EXPECT_EQ(n->edge_id, "edge-7");
  EXPECT_FALSE(parse_wake_up("no newline"));
}

}  // namespace

namespace {

// append_batch: one pipeline for many devices' appends, in the given order, with the same per-item
// outcome append() has (queued, duplicate, overflow, no session, invalid item alone).
TEST_F(EventQueueTest, AppendBatchKeepsOrderPerDeviceAndReportsEachItem) {
  const DeviceKey tablet{phone.user, "Ptablet"};
  const DeviceKey gone{phone.user, "Pgone"};  // no session
  const DeviceKey bad{phone.user, ""};        // invalid
  ASSERT_TRUE(sessions.open(tablet, OpenParams{"edge-a", "tcp"}));
  const auto a = event("a"), b = event("b"), c = event("c");
  const std::vector<AppendItem> items = {{&phone, &a}, {&tablet, &a}, {&gone, &a}, {&bad, &a},
                                         {&phone, &b}, {&tablet, &b}, {&phone, &a}, {&phone, &c}};
  auto r = queue.append_batch(items, 3);  // several chunks
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), items.size());
  EXPECT_EQ((*r)[0]->status, AppendStatus::queued);
  EXPECT_EQ((*r)[0]->seq, 1u);
  EXPECT_EQ((*r)[1]->seq, 1u);
  EXPECT_EQ((*r)[2]->status, AppendStatus::no_session);
  EXPECT_FALSE((*r)[3]);
  EXPECT_EQ((*r)[4]->seq, 2u);
  EXPECT_EQ((*r)[5]->seq, 2u);
  EXPECT_EQ((*r)[6]->status, AppendStatus::duplicate);  // redelivered within the batch
  EXPECT_EQ((*r)[6]->seq, 1u);
  EXPECT_EQ((*r)[7]->seq, 3u);
  auto p = queue.read_after(phone, 0, 10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->events.size(), 3u);
  EXPECT_EQ(p->events[0].event_id, "a");
  EXPECT_EQ(p->events[1].event_id, "b");
  EXPECT_EQ(p->events[2].event_id, "c");
}

// Redis forgot the script (restart, SCRIPT FLUSH): the batch loads it and still appends in order.
TEST_F(EventQueueTest, AppendBatchReloadsAFlushedScript) {
  ASSERT_TRUE(pool.command({"SCRIPT", "FLUSH"}));
  const auto a = event("a"), b = event("b");
  const std::vector<AppendItem> items = {{&phone, &a}, {&phone, &b}};
  auto r = queue.append_batch(items);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0]->seq, 1u);
  EXPECT_EQ((*r)[1]->seq, 2u);
  auto p = queue.read_after(phone, 0, 10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->events.size(), 2u);
  EXPECT_EQ(p->events[0].event_id, "a");
  EXPECT_EQ(p->events[1].event_id, "b");
}

// Overflow in the middle of a batch: the RESYNC marker replaces the queue, later items queue after it.
TEST_F(EventQueueTest, AppendBatchOverflowsToAResyncMarker) {
  std::vector<EventRecord> records;
  for (int i = 0; i < 7; ++i) records.push_back(event("o" + std::to_string(i)));
  std::vector<AppendItem> items;
  for (const auto& rec : records) items.push_back({&phone, &rec});
  auto r = queue.append_batch(items);  // max_events 5
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[5]->status, AppendStatus::overflow);
  EXPECT_EQ((*r)[6]->status, AppendStatus::queued);
  auto p = queue.read_after(phone, 0, 10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->events.size(), 2u);
  EXPECT_TRUE(p->events[0].overflow);
  EXPECT_TRUE(p->resync);
  EXPECT_EQ(p->events[1].event_id, "o6");
}

}  // namespace

namespace {

// A batch of a device's events is one script run per 512 of them, and wakes its holder once per
// run with the run's last seq, not once per event; the queue holds all of them, gap-free, in order.
TEST_F(EventQueueTest, AppendBatchWakesTheHolderOncePerRunWithItsLastSeq) {
  EventQueue big(pool, keys, QueueConfig{5000, 0});
  AttachRegistry registry(pool, keys, 30s);
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> got;
  pimap::redis::Subscriber sub(test::server().options(), {keys.wake_channel("inst-1")},
                               [&](std::string_view, std::string_view payload) {
                                 std::lock_guard l(m);
                                 got.emplace_back(payload);
                                 cv.notify_all();
                               });
  for (int i = 0; i < 200 && !sub.subscribed(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(sub.subscribed());
  ASSERT_TRUE(registry.attach(phone, Holder{"inst-1", "edge-a"}));
  std::vector<EventRecord> records;
  for (int i = 1; i <= 600; ++i) records.push_back(event("w" + std::to_string(i)));
  std::vector<AppendItem> items;
  for (const auto& rec : records) items.push_back({&phone, &rec});
  auto r = big.append_batch(items);
  ASSERT_TRUE(r) << r.error().message;
  for (std::size_t i = 0; i < items.size(); ++i) {
    ASSERT_TRUE((*r)[i]);
    EXPECT_EQ((*r)[i]->status, AppendStatus::queued);
    EXPECT_EQ((*r)[i]->seq, i + 1);
    EXPECT_EQ((*r)[i]->instance, std::optional<std::string>("inst-1"));
  }
  {
    std::unique_lock l(m);
    ASSERT_TRUE(cv.wait_for(l, 5s, [&] { return got.size() >= 2; }));
    cv.wait_for(l, 300ms, [&] { return got.size() > 2; });  // a third would be one too many
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(parse_wake_up(got[0])->seq, 512u);
    EXPECT_EQ(parse_wake_up(got[1])->seq, 600u);
  }
  auto p = big.read_after(phone, 0, 1000);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->events.size(), 600u);
  for (std::size_t i = 0; i < 600; ++i) {
    EXPECT_EQ(p->events[i].seq, i + 1);
    EXPECT_EQ(p->events[i].event_id, "w" + std::to_string(i + 1));
  }
  // All duplicates now: nothing queued, nobody woken.
  auto again = big.append_batch(items);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[599]->status, AppendStatus::duplicate);
  EXPECT_EQ((*again)[599]->seq, 600u);
  std::unique_lock l(m);
  EXPECT_FALSE(cv.wait_for(l, 300ms, [&] { return got.size() > 2; }));
}

}  // namespace

namespace {

// read_after_batch: several devices' queues in one round trip, each as read_after() would give it.
TEST_F(EventQueueTest, ReadAfterBatchAnswersPerDevice) {
  const DeviceKey tablet{phone.user, "Ptablet"};
  const DeviceKey gone{phone.user, "Pgone"};
  ASSERT_TRUE(sessions.open(tablet, OpenParams{"edge-a", "tcp"}));
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(queue.append(phone, event(id)));
  ASSERT_TRUE(queue.append(tablet, resync("r", "Sent")));
  const std::vector<ReadItem> items = {{&phone, 1}, {&gone, 0}, {&tablet, 0}, {&phone, 3}};
  auto r = queue.read_after_batch(items, 10);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 4u);
  ASSERT_TRUE((*r)[0]);
  ASSERT_EQ((*r)[0]->events.size(), 2u);
  EXPECT_EQ((*r)[0]->events[0].event_id, "b");
  EXPECT_EQ((*r)[0]->last_seq, 3u);
  ASSERT_FALSE((*r)[1]);
  EXPECT_EQ((*r)[1].error().code, StoreErrc::no_session);
  ASSERT_TRUE((*r)[2]);
  EXPECT_TRUE((*r)[2]->resync);
  EXPECT_EQ((*r)[2]->resync_folder, "Sent");
  ASSERT_TRUE((*r)[3]);
  EXPECT_TRUE((*r)[3]->events.empty());
}

}  // namespace
