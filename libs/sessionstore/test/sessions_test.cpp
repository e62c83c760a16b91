#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/session_id.hpp>
#include <pimap/sessionstore/sessions.hpp>

#include "fixture.hpp"

#include <set>
#include <thread>

using namespace std::chrono_literals;
using namespace pimap::sessionstore;

namespace {

class SessionsTest : public test::StoreTest {
 protected:
  SessionConfig config() {
    SessionConfig c;
    c.lifetime = 3600s;
    return c;
  }
  Sessions sessions{pool, keys, config()};
  EventQueue queue{pool, keys, QueueConfig{}};
  OpenParams edge_a{"edge-a", "tcp"};
  OpenParams edge_b{"edge-b", "tcp"};

  EventRecord event(const std::string& id) { return EventRecord{id, "payload-" + id, false, "INBOX", {}}; }
};

TEST(SessionId, Is26Base32CharactersAndRandom) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = generate_session_id();
    ASSERT_EQ(id.size(), 26u);
    ASSERT_TRUE(is_valid_session_id(id)) << id;
    for (char c : id) ASSERT_TRUE((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(is_valid_session_id("ABC"));
  EXPECT_FALSE(is_valid_session_id("AAAAAAAAAAAAAAAAAAAAAAAAA1"));  // '1' is not base32
  EXPECT_FALSE(is_valid_session_id("AAAAAAAAAAAAAAAAAAAAAAAAAB"));  // non-zero padding bits
}

TEST_F(SessionsTest, FirstLoginThenResumeOnAnotherEdge) {
  auto first = sessions.open(phone, edge_a);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(first->resumed);
  EXPECT_TRUE(is_valid_session_id(first->session.id));
  EXPECT_EQ(first->session.state, SessionState::authenticated);
  EXPECT_TRUE(first->pending.events.empty());

  auto again = sessions.open(phone, edge_b);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->resumed);
  EXPECT_EQ(again->session.id, first->session.id);
  EXPECT_EQ(again->session.edge_id, "edge-b");
  EXPECT_EQ(again->session.epoch, first->session.epoch + 1);

  // A different device of the same user has its own session.
  auto tablet = sessions.open(DeviceKey{phone.user, "Ptablet"}, edge_a);
  ASSERT_TRUE(tablet);
  EXPECT_FALSE(tablet->resumed);
  EXPECT_NE(tablet->session.id, first->session.id);
}

TEST_F(SessionsTest, LifetimeIsARedisTtlRefreshedOnContact) {
  auto s = sessions.open(phone, edge_a);
  ASSERT_TRUE(s);
  ASSERT_EQ(queue.append(phone, event("e1"))->status, AppendStatus::queued);
  for (const auto& key : {keys.session(phone), keys.queue(phone), keys.dedupe(phone),
                          keys.session_id(s->session.id)}) {
    const auto ttl = pttl(key);
    EXPECT_GT(ttl, 3590'000) << key;
    EXPECT_LE(ttl, 3600'000) << key;
  }
  raw({"PEXPIRE", keys.session(phone), "5000"});
  ASSERT_TRUE(sessions.touch(phone));
  EXPECT_GT(pttl(keys.session(phone)), 3590'000);
}

TEST_F(SessionsTest, ExpiredSessionMeansFirstLogin) {
  SessionConfig short_lived;
  short_lived.lifetime = 1s;
  Sessions brief(pool, keys, short_lived);
  auto first = brief.open(phone, edge_a);
  ASSERT_TRUE(first);
  std::this_thread::sleep_for(1100ms);
  auto later = brief.open(phone, edge_a);
  ASSERT_TRUE(later);
  EXPECT_FALSE(later->resumed);
  EXPECT_NE(later->session.id, first->session.id);
}

TEST_F(SessionsTest, DetachKeepsStateAndResumeReturnsExactlyTheUnackedEvents) {
  auto s = sessions.open(phone, edge_a);
  ASSERT_TRUE(s);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(queue.append(phone, event("e" + std::to_string(i))));
  DetachParams d;
  d.state = SessionState::selected;
  d.folder = "INBOX";
  d.acked_seq = 2;
  d.view = {{"seqmap", "1:10,2:11"}, {"modseq", "42"}};
  auto det = sessions.detach(phone, s->session.id, d);
  ASSERT_TRUE(det) << det.error().message;
  EXPECT_FALSE(det->stale);
  EXPECT_GT(pttl(keys.view(phone)), 3590'000);

  auto r = sessions.open(phone, edge_b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->resumed);
  EXPECT_EQ(r->session.state, SessionState::selected);
  EXPECT_EQ(r->session.folder, "INBOX");
  EXPECT_EQ(r->session.acked_seq, 2u);
  EXPECT_EQ(r->session.view.at("seqmap"), "1:10,2:11");
  ASSERT_EQ(r->pending.events.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r->pending.events[i].seq, i + 3);
    EXPECT_EQ(r->pending.events[i].event_id, "e" + std::to_string(i + 3));
    EXPECT_EQ(r->pending.events[i].payload, "payload-e" + std::to_string(i + 3));
  }
  EXPECT_FALSE(r->pending.resync);
  EXPECT_EQ(r->pending.last_seq, 5u);
}

TEST_F(SessionsTest, StaleDetachAppliesTheAckButNotTheState) {
  auto a = sessions.open(phone, edge_a);
  ASSERT_TRUE(a);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(queue.append(phone, event("e" + std::to_string(i))));
  auto b = sessions.open(phone, edge_b);  // the device reconnected elsewhere first
  ASSERT_TRUE(b);
  DetachParams newer;
  newer.state = SessionState::selected;
  newer.folder = "Work";
  newer.epoch = b->session.epoch;
  ASSERT_TRUE(sessions.detach(phone, b->session.id, newer));
  DetachParams late;
  late.state = SessionState::selected;
  late.folder = "INBOX";
  late.acked_seq = 2;
  late.epoch = a->session.epoch;
  auto det = sessions.detach(phone, a->session.id, late);
  ASSERT_TRUE(det);
  EXPECT_TRUE(det->stale);
  auto now = sessions.lookup(phone);
  ASSERT_TRUE(now && now->has_value());
  EXPECT_EQ((*now)->folder, "Work");
  EXPECT_EQ((*now)->acked_seq, 2u);
}

TEST_F(SessionsTest, ViewIsReturnedOnlyWhenItReflectsTheAcknowledgedSeq) {
  auto a = sessions.open(phone, edge_a);
  ASSERT_TRUE(a);
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(queue.append(phone, event("e" + std::to_string(i))));
  DetachParams cp;  // a checkpoint of a connection that goes on
  cp.state = SessionState::selected;
  cp.folder = "INBOX";
  cp.acked_seq = 2;
  cp.epoch = a->session.epoch;
  cp.view_version = 1;
  cp.view = {{"u", "1:7"}};
  ASSERT_TRUE(sessions.detach(phone, a->session.id, cp));
  auto seen = sessions.lookup(phone);
  ASSERT_TRUE(seen && seen->has_value());
  EXPECT_EQ((*seen)->view, (std::map<std::string, std::string>{{"u", "1:7"}}));  // bookkeeping stays inside

  // An older write of the same connection arriving late changes nothing but the acknowledgement.
  DetachParams late = cp;
  late.view_version = 1;
  late.view = {{"u", "1:3"}};
  auto det = sessions.detach(phone, a->session.id, late);
  ASSERT_TRUE(det);
  EXPECT_TRUE(det->stale);
  EXPECT_EQ((*sessions.lookup(phone))->view.at("u"), "1:7");

  // The acknowledgement moves past the view without a new one (an older connection's ack): the view no
  // longer says what the device holds before the pending events, so it is not handed out.
  ASSERT_TRUE(sessions.ack(phone, a->session.id, 3));
  auto r = sessions.open(phone, edge_b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->session.view.empty());
  EXPECT_EQ(r->session.folder, "INBOX");

  // The new connection's first write (a new epoch) counts whatever the old connection's version was.
  DetachParams next;
  next.state = SessionState::selected;
  next.folder = "INBOX";
  next.acked_seq = 4;
  next.epoch = r->session.epoch;
  next.view_version = 1;
  next.view = {{"u", "1:9"}};
  ASSERT_TRUE(sessions.detach(phone, r->session.id, next));
  auto again = sessions.open(phone, edge_a);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->session.view, (std::map<std::string, std::string>{{"u", "1:9"}}));
  EXPECT_TRUE(again->pending.events.empty());
}

// Events pushed to an edge past the acknowledged seq may have been told by it before it died: a view
// then does not say what the device holds, so Open hands none out (a scoped RESYNC, not a replay that
// could repeat them). A clean detach (the connection ended; it told nothing unacknowledged) or a
// checkpoint that acknowledges them makes the view exact again.
TEST_F(SessionsTest, ViewIsWithheldWhileEventsPushedPastItAreUnacknowledged) {
  auto a = sessions.open(phone, edge_a);
  ASSERT_TRUE(a);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(queue.append(phone, event("e" + std::to_string(i))));
  DetachParams cp;
  cp.state = SessionState::selected;
  cp.folder = "INBOX";
  cp.acked_seq = 1;
  cp.epoch = a->session.epoch;
  cp.view_version = 1;
  cp.view = {{"u", "1:5"}};
  ASSERT_TRUE(sessions.detach(phone, a->session.id, cp));
  EXPECT_EQ((*sessions.lookup(phone))->view.at("u"), "1:5");

  // A plain read (not for an edge) changes nothing; the session service's read for a push marks them.
  const ReadItem item{&phone, 1};
  ASSERT_TRUE(queue.read_after_batch(std::span(&item, 1), 10));
  EXPECT_EQ((*sessions.lookup(phone))->view.at("u"), "1:5");
  auto pushed = queue.read_after_batch(std::span(&item, 1), 10, /*for_push=*/true);
  ASSERT_TRUE(pushed && (*pushed)[0]);
  EXPECT_EQ((*pushed)[0]->events.size(), 2u);

  // The edge dies before acknowledging: the resume gets the pending events but no view.
  auto b = sessions.open(phone, edge_b);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->session.view.empty());
  EXPECT_EQ(b->pending.events.size(), 2u);

  // That connection ends cleanly without telling them (the device never got to IDLE): exact again.
  DetachParams gone = cp;
  gone.epoch = b->session.epoch;
  gone.clean = true;
  ASSERT_TRUE(sessions.detach(phone, b->session.id, gone));
  auto c = sessions.open(phone, edge_a);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->session.view.at("u"), "1:5");
  EXPECT_EQ(c->pending.events.size(), 2u);

  // Open counted the pending events as pushed to the opening edge: lost before its checkpoint, it may
  // have told them. Its checkpoint after telling them (acknowledging all) makes its view the current one.
  auto d = sessions.open(phone, edge_b);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->session.view.empty()) << "c's edge may have told them";
  DetachParams told = cp;
  told.epoch = d->session.epoch;
  told.acked_seq = 3;
  told.view = {{"u", "1:7"}};
  ASSERT_TRUE(sessions.detach(phone, d->session.id, told));
  auto e = sessions.open(phone, edge_a);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->session.view.at("u"), "1:7");
  EXPECT_TRUE(e->pending.events.empty());
}

TEST_F(SessionsTest, WrongSessionIdIsRefused) {
  ASSERT_TRUE(sessions.open(phone, edge_a));
  const auto other = generate_session_id();
  auto d = sessions.detach(phone, other, DetachParams{});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, StoreErrc::wrong_session);
  auto a = sessions.ack(phone, other, 1);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, StoreErrc::wrong_session);
  auto c = sessions.close(phone, other);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, StoreErrc::wrong_session);
  EXPECT_TRUE(exists(keys.session(phone)));
  auto none = sessions.ack(DeviceKey{phone.user, "Pnobody"}, other, 1);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, StoreErrc::no_session);
}

TEST_F(SessionsTest, AckTrimsTheQueueAndNeverMovesBack) {
  auto s = sessions.open(phone, edge_a);
  ASSERT_TRUE(s);
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(queue.append(phone, event("e" + std::to_string(i))));
  ASSERT_TRUE(sessions.ack(phone, s->session.id, 4));
  EXPECT_EQ(*queue.depth(phone), 6u);
  ASSERT_TRUE(sessions.ack(phone, s->session.id, 2));  // backwards: ignored
  EXPECT_EQ(*queue.depth(phone), 6u);
  ASSERT_TRUE(sessions.ack(phone, s->session.id, 1000));  // beyond the last seq: capped
  EXPECT_EQ(*queue.depth(phone), 0u);
  EXPECT_EQ((*sessions.lookup(phone))->acked_seq, 10u);
  // The next event continues the sequence.
  EXPECT_EQ(queue.append(phone, event("e11"))->seq, 11u);
}

TEST_F(SessionsTest, CloseDropsSessionAndQueueButKeepsNothingElseAlive) {
  auto s = sessions.open(phone, edge_a);
  ASSERT_TRUE(s);
  ASSERT_TRUE(queue.append(phone, event("e1")));
  ASSERT_TRUE(sessions.close(phone, s->session.id));
  EXPECT_FALSE(exists(keys.session(phone)));
  EXPECT_FALSE(exists(keys.queue(phone)));
  EXPECT_FALSE(exists(keys.dedupe(phone)));
  EXPECT_FALSE(exists(keys.session_id(s->session.id)));
  EXPECT_TRUE(sessions.close(phone, s->session.id));  // idempotent
  // Events for a closed session are not queued.
  EXPECT_EQ(queue.append(phone, event("e2"))->status, AppendStatus::no_session);
  EXPECT_FALSE(exists(keys.queue(phone)));
  auto next = sessions.open(phone, edge_a);
  ASSERT_TRUE(next);
  EXPECT_FALSE(next->resumed);
  EXPECT_NE(next->session.id, s->session.id);
  EXPECT_TRUE(next->pending.events.empty());
}

TEST_F(SessionsTest, LookupBySessionId) {
  auto s = sessions.open(phone, edge_a);
  ASSERT_TRUE(s);
  auto found = sessions.lookup_by_id(s->session.id);
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ(**found, phone);
  EXPECT_FALSE(sessions.lookup_by_id(generate_session_id())->has_value());
  EXPECT_FALSE(sessions.lookup_by_id("not-an-id")->has_value());
  ASSERT_TRUE(sessions.close(phone, s->session.id));
  EXPECT_FALSE(sessions.lookup_by_id(s->session.id)->has_value());
}

TEST_F(SessionsTest, MalformedDeviceKeysAreRefused) {
  auto r = sessions.open(DeviceKey{"", "Pa"}, edge_a);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StoreErrc::invalid_argument);
  EXPECT_FALSE(sessions.open(DeviceKey{"u", "P/a"}, edge_a));
  EXPECT_FALSE(sessions.open(DeviceKey{"u\nx", "Pa"}, edge_a));
}

TEST_F(SessionsTest, WorksAgainAfterARedisRestart) {
  ASSERT_TRUE(sessions.open(phone, edge_a));
  test::server().stop();
  auto down = sessions.open(phone, edge_a);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, StoreErrc::redis);
  EXPECT_TRUE(down.error().transient);
  test::server().start();
  Result<OpenResult> up = StoreError{StoreErrc::redis, "not tried", true};
  for (int i = 0; i < 50 && !up; ++i) {
    up = sessions.open(phone, edge_a);
    if (!up) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(up) << up.error().message;
  EXPECT_FALSE(up->resumed);  // the test Redis has no persistence: the session is gone
}

}  // namespace
