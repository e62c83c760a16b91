#include "hook_payload.hpp"

#include <gtest/gtest.h>

namespace pimap::store_watcher {
namespace {

using pimap::v1::StoreEvent;

// Byte for byte what Dovecot 2.3.19's OX driver sent in services-by-hand.md §7.
constexpr const char* kOx =
    R"({"user":"alice","event":"messageNew","folder":"INBOX","imap-uidvalidity":1712345678,"imap-uid":6,)"
    R"("from":"sender@example.test","subject":"idle test 0","snippet":"body of idle test 0","unseen":6})";

TEST(OxPayload, BecomesOneMessageNewEvent) {
  auto r = parse_ox_payload(kOx, 123);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.batch.user, "alice");
  ASSERT_EQ(r.batch.events.size(), 1u);
  const auto& e = r.batch.events[0];
  EXPECT_EQ(e.kind(), StoreEvent::MESSAGE_NEW);
  EXPECT_EQ(e.user(), "alice");
  EXPECT_EQ(e.mailbox(), "INBOX");
  EXPECT_EQ(e.uidvalidity(), 1712345678u);
  ASSERT_EQ(e.uids_size(), 1);
  EXPECT_EQ(e.uids(0), 6u);
  ASSERT_EQ(e.messages_size(), 1);
  EXPECT_EQ(e.messages(0).uid(), 6u);
  EXPECT_EQ(e.messages(0).from(), "sender@example.test");
  EXPECT_EQ(e.messages(0).subject(), "idle test 0");
  EXPECT_EQ(e.status().unseen(), 6u);
  EXPECT_EQ(e.source(), "push_notification");
  EXPECT_EQ(e.observed_unix_us(), 123);
  EXPECT_EQ(e.event_id(), "alice/INBOX/1712345678/6/new");
}

TEST(OxPayload, SameNotificationTwiceGivesSameId) {
  auto a = parse_ox_payload(kOx, 1);
  auto b = parse_ox_payload(kOx, 2);
  ASSERT_TRUE(a.ok && b.ok);
  EXPECT_EQ(a.batch.events[0].event_id(), b.batch.events[0].event_id());
}

TEST(OxPayload, RejectsBrokenPayloads) {
  EXPECT_FALSE(parse_ox_payload("not json", 0).ok);
  EXPECT_FALSE(parse_ox_payload("[1,2]", 0).ok);
  auto missing = parse_ox_payload(R"({"user":"a","event":"messageNew","folder":"INBOX","imap-uid":3})", 0);
  EXPECT_FALSE(missing.ok);
  EXPECT_NE(missing.error.find("imap-uidvalidity"), std::string::npos) << missing.error;
  auto negative = parse_ox_payload(
      R"({"user":"a","event":"messageNew","folder":"INBOX","imap-uidvalidity":1,"imap-uid":-3})", 0);
  EXPECT_FALSE(negative.ok);
  auto huge = parse_ox_payload(
      R"({"user":"a","event":"messageNew","folder":"INBOX","imap-uidvalidity":1,"imap-uid":4294967296})", 0);
  EXPECT_FALSE(huge.ok);
  EXPECT_FALSE(parse_ox_payload(R"({"user":"","event":"messageNew"})", 0).ok);
}

TEST(OxPayload, OtherEventNamesAreIgnoredNotRejected) {
  auto r = parse_ox_payload(R"({"user":"a","event":"messageRead"})", 0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.batch.events.empty());
  EXPECT_EQ(r.batch.ignored, 1u);
}

TEST(LuaPayload, EveryKindOfChange) {
  auto r = parse_lua_payload(R"({"v":1,"user":"bob","events":[
      {"type":"MessageNew","mailbox":"INBOX","uidvalidity":5,"uid":10,"from":"x@y","subject":"hi",
       "date":1700000000,"size":1234,"flags":["\\Recent"]},
      {"type":"MessageAppend","mailbox":"Sent","uidvalidity":6,"uid":3},
      {"type":"MessageExpunge","mailbox":"INBOX","uidvalidity":5,"uid":4},
      {"type":"FlagsSet","mailbox":"INBOX","uidvalidity":5,"uid":9,"flags":["\\Seen","\\Flagged"],"modseq":77},
      {"type":"MailboxCreate","mailbox":"Work","uidvalidity":8},
      {"type":"MailboxDelete","mailbox":"Old"},
      {"type":"MailboxRename","mailbox":"Jobs","old_mailbox":"Work","uidvalidity":8},
      {"type":"MailboxSubscribe","mailbox":"Jobs"}],
    "status":{"INBOX":{"messages":3,"uidnext":11,"unseen":1,"highestmodseq":77,"uidvalidity":5}}})",
                             5);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.batch.ignored, 1u);
  ASSERT_EQ(r.batch.events.size(), 7u);
  const auto& ev = r.batch.events;
  // Message events in (mailbox, UID) order (see OrdersATransactionsMessagesByUid).
  EXPECT_EQ(ev[0].kind(), StoreEvent::MESSAGE_EXPUNGED);
  EXPECT_EQ(ev[0].event_id(), "bob/INBOX/5/4/expunged");
  EXPECT_EQ(ev[1].kind(), StoreEvent::FLAGS_CHANGED);
  EXPECT_EQ(ev[1].event_id(), "bob/INBOX/5/9@77/flags");
  ASSERT_EQ(ev[1].flags_size(), 2);
  EXPECT_EQ(ev[2].kind(), StoreEvent::MESSAGE_NEW);
  EXPECT_EQ(ev[2].messages(0).internal_date_unix(), 1700000000);
  EXPECT_EQ(ev[2].messages(0).size(), 1234u);
  EXPECT_EQ(ev[2].messages(0).flags(0), "\\Recent");
  EXPECT_EQ(ev[2].status().uidnext(), 11u);  // status block attached to INBOX events
  EXPECT_EQ(ev[3].mailbox(), "Sent");
  EXPECT_FALSE(ev[3].has_status());
  EXPECT_EQ(ev[4].kind(), StoreEvent::MAILBOX_CREATED);
  EXPECT_EQ(ev[5].kind(), StoreEvent::MAILBOX_DELETED);
  EXPECT_EQ(ev[6].kind(), StoreEvent::MAILBOX_RENAMED);
  EXPECT_EQ(ev[6].old_mailbox(), "Work");
  EXPECT_EQ(ev[6].event_id(), "bob/Jobs/8/renamed-from/Work");
  for (const auto& e : ev) EXPECT_EQ(e.user(), "bob");
}

// Dovecot reports a COPY's messages in no UID order (seen: 771..800 then 601..770); a device in
// IDLE can only be told new mail in UID order, so the intake publishes them sorted. Events of one
// UID keep their order, and nothing moves across a mailbox event.
TEST(LuaPayload, OrdersATransactionsMessagesByUid) {
  auto r = parse_lua_payload(R"({"v":1,"user":"bob","events":[
      {"type":"MessageAppend","mailbox":"INBOX","uidvalidity":5,"uid":771},
      {"type":"MessageAppend","mailbox":"INBOX","uidvalidity":5,"uid":800},
      {"type":"MessageAppend","mailbox":"INBOX","uidvalidity":5,"uid":601},
      {"type":"FlagsSet","mailbox":"INBOX","uidvalidity":5,"uid":601,"flags":["\\Seen"],"modseq":9},
      {"type":"MessageExpunge","mailbox":"INBOX","uidvalidity":5,"uid":601},
      {"type":"MessageAppend","mailbox":"INBOX","uidvalidity":5,"uid":602},
      {"type":"MailboxRename","mailbox":"Jobs","old_mailbox":"Work","uidvalidity":8},
      {"type":"MessageAppend","mailbox":"Jobs","uidvalidity":8,"uid":7},
      {"type":"MessageAppend","mailbox":"Jobs","uidvalidity":8,"uid":2}]})",
                             5);
  ASSERT_TRUE(r.ok) << r.error;
  std::vector<std::string> ids;
  for (const auto& e : r.batch.events) ids.push_back(e.event_id());
  EXPECT_EQ(ids, (std::vector<std::string>{"bob/INBOX/5/601/new", "bob/INBOX/5/601@9/flags",
                                           "bob/INBOX/5/601/expunged", "bob/INBOX/5/602/new",
                                           "bob/INBOX/5/771/new", "bob/INBOX/5/800/new",
                                           "bob/Jobs/8/renamed-from/Work", "bob/Jobs/8/2/new",
                                           "bob/Jobs/8/7/new"}));
}

TEST(LuaPayload, FlagChangeWithoutFullSetAsksForReconcile) {
  auto r = parse_lua_payload(R"({"v":1,"user":"bob","events":[
      {"type":"FlagsClear","mailbox":"INBOX","uidvalidity":5,"uid":9,"changed":["\\Seen"]},
      {"type":"FlagsSet","mailbox":"INBOX","uidvalidity":5,"uid":10,"changed":["\\Seen"]}]})",
                             0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.batch.events.empty());
  EXPECT_EQ(r.batch.reconcile_mailboxes, std::vector<std::string>{"INBOX"});
}

// What Dovecot 2.3's Lua driver really sends for CREATE + RENAME: names only, the UIDVALIDITY is in
// the status block. The ids must match what a reconcile run computes for the same change.
TEST(LuaPayload, MailboxEventsTakeUidvalidityFromTheStatusBlock) {
  auto r = parse_lua_payload(R"({"v":1,"user":"bob","events":[
      {"type":"MailboxCreate","mailbox":"Foo"},
      {"type":"MailboxRename","mailbox":"Bar","old_mailbox":"Foo"},
      {"type":"MailboxDelete","mailbox":"Old"}],
    "status":{"Foo":{"uidvalidity":41},"Bar":{"uidvalidity":41,"uidnext":1}}})",
                             0);
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.batch.events.size(), 3u);
  EXPECT_EQ(r.batch.events[0].event_id(), "bob/Foo/41/created");
  EXPECT_EQ(r.batch.events[1].event_id(), "bob/Bar/41/renamed-from/Foo");
  EXPECT_EQ(r.batch.events[1].uidvalidity(), 41u);
  EXPECT_EQ(r.batch.events[2].uidvalidity(), 0u);  // a deleted mailbox has no status to tell
}

// Dovecot's hooks name mailboxes in UTF-8; its IMAP (the reconciler, devices) in modified UTF-7. The
// event carries the IMAP spelling, so a hook and a reconcile run give the same id for the same change.
TEST(LuaPayload, MailboxNamesTakeTheImapSpelling) {
  auto r = parse_lua_payload(
      "{\"v\":1,\"user\":\"bob\",\"events\":["
      "{\"type\":\"MessageNew\",\"mailbox\":\"Entw\u00fcrfe\",\"uidvalidity\":7,\"uid\":3},"
      "{\"type\":\"MailboxRename\",\"mailbox\":\"R&D/\u53f0\u5317\",\"old_mailbox\":\"R&D\"}],"
      "\"status\":{\"Entw\u00fcrfe\":{\"uidvalidity\":7,\"messages\":3}}}",
      0);
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.batch.events.size(), 2u);
  EXPECT_EQ(r.batch.events[0].mailbox(), "Entw&APw-rfe");
  EXPECT_EQ(r.batch.events[0].status().messages(), 3u);  // the status block is keyed the same way
  EXPECT_EQ(r.batch.events[0].event_id(), "bob/Entw&APw-rfe/7/3/new");
  EXPECT_EQ(r.batch.events[1].mailbox(), "R&-D/&U,BTFw-");
  EXPECT_EQ(r.batch.events[1].old_mailbox(), "R&-D");

  auto ox = parse_ox_payload(
      R"({"user":"bob","event":"messageNew","folder":"Entw\u00fcrfe","imap-uidvalidity":7,"imap-uid":3})", 0);
  ASSERT_TRUE(ox.ok) << ox.error;
  EXPECT_EQ(ox.batch.events[0].event_id(), r.batch.events[0].event_id());

  // Not UTF-8 (a lone surrogate, raw Latin-1): refused, never passed on under a third spelling.
  EXPECT_FALSE(parse_lua_payload(R"({"v":1,"user":"bob","events":[{"type":"MailboxCreate","mailbox":"\ud800"}]})", 0).ok);
  EXPECT_FALSE(parse_lua_payload("{\"v\":1,\"user\":\"bob\",\"events\":[{\"type\":\"MailboxCreate\",\"mailbox\":\"caf\xe9\"}]}", 0).ok);
}

TEST(LuaPayload, EmptyLuaTablesAreAccepted) {
  auto r = parse_lua_payload(R"({"v":1,"user":"bob","events":{}})", 0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.batch.events.empty());
}

TEST(LuaPayload, RejectsWrongVersionAndBadEvents) {
  EXPECT_FALSE(parse_lua_payload(R"({"v":2,"user":"bob","events":[]})", 0).ok);
  EXPECT_FALSE(parse_lua_payload(R"({"v":1,"user":"bob"})", 0).ok);
  auto no_type = parse_lua_payload(R"({"v":1,"user":"bob","events":[{"mailbox":"INBOX","uid":3}]})", 0);
  EXPECT_FALSE(no_type.ok);
  EXPECT_NE(no_type.error.find("events[0]."), std::string::npos) << no_type.error;
  auto rename_without_old = parse_lua_payload(
      R"({"v":1,"user":"bob","events":[{"type":"MailboxRename","mailbox":"X"}]})", 0);
  EXPECT_FALSE(rename_without_old.ok);
}

// Issue #5: what Dovecot 2.3.19 sent for about a third of 50 concurrent LMTP deliveries into one Maildir
// (the uidlist was locked by a sibling delivery, so the mail was saved without a UID).
TEST(LuaPayload, MessageSavedWithoutUidAsksForReconcileInsteadOfFailing) {
  auto r = parse_lua_payload(
      R"({"v":1,"user":"user48","events":[)"
      R"({"type":"MessageNew","mailbox":"INBOX","uidvalidity":1764300000,"uid":0,"from":"a@b","subject":"m06"}],)"
      R"("status":{"INBOX":{"messages":12,"uidnext":13,"uidvalidity":1764300000,"unseen":12,"highestmodseq":20}}})",
      0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.batch.events.empty());
  EXPECT_EQ(r.batch.reconcile_mailboxes, std::vector<std::string>{"INBOX"});
  // A transaction mixing named and unnamed saves keeps the named ones as events.
  auto mixed = parse_lua_payload(
      R"({"v":1,"user":"bob","events":[{"type":"MessageNew","mailbox":"INBOX","uidvalidity":5,"uid":7},)"
      R"({"type":"MessageAppend","mailbox":"Sent","uidvalidity":0,"uid":0},)"
      R"({"type":"MessageExpunge","mailbox":"Trash","uidvalidity":6}]})",
      0);
  ASSERT_TRUE(mixed.ok) << mixed.error;
  ASSERT_EQ(mixed.batch.events.size(), 1u);
  EXPECT_EQ(mixed.batch.events[0].uids(0), 7u);
  EXPECT_EQ(mixed.batch.reconcile_mailboxes, (std::vector<std::string>{"Sent", "Trash"}));
}

TEST(OxPayload, MessageSavedWithoutUidAsksForReconcileInsteadOfFailing) {
  auto r = parse_ox_payload(
      R"({"user":"user48","event":"messageNew","folder":"INBOX","imap-uidvalidity":1764300000,"imap-uid":0})", 0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.batch.events.empty());
  EXPECT_EQ(r.batch.reconcile_mailboxes, std::vector<std::string>{"INBOX"});
}

TEST(LuaPayload, RejectedPayloadStillNamesUserAndMailboxes) {
  auto r = parse_lua_payload(
      R"({"v":1,"user":"bob","events":[{"type":"MessageNew","mailbox":"INBOX","uidvalidity":5,"uid":"x"},)"
      R"({"type":"MailboxRename","mailbox":"New","old_mailbox":"Old"}]})",
      0);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.error.find("events[0].'uid'"), std::string::npos) << r.error;
  EXPECT_TRUE(r.batch.events.empty());
  EXPECT_EQ(r.batch.user, "bob");
  EXPECT_EQ(r.batch.reconcile_mailboxes, (std::vector<std::string>{"INBOX", "New", "Old"}));
  auto no_user = parse_lua_payload(R"({"v":1,"events":[{"type":"MessageNew","mailbox":"INBOX"}]})", 0);
  ASSERT_FALSE(no_user.ok);
  EXPECT_EQ(no_user.batch.user, "");
}

}  // namespace
}  // namespace pimap::store_watcher

// Found by fuzz/hook_payload_fuzz: a numeric string above 2^64 made std::stoull throw out of the
// parser (and out of the intake's request handler). It must be a rejected payload like any other.
TEST(OxPayload, NumberStringAboveUint64IsRejectedNotThrown) {
  const auto r = pimap::store_watcher::parse_ox_payload(
      R"({"user":"alice","event":"messageNew","folder":"INBOX","imap-uidvalidity":1,"imap-uid":2,)"
      R"("unseen":"90000000000064412588"})",
      1);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("unseen"), std::string::npos) << r.error;
}
