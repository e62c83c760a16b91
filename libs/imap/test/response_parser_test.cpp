// Response parser: one response at a time, examples from the RFCs and from Dovecot 2.3's output.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pimap/imap/response_reader.hpp"

namespace pimap::imap {
namespace {

struct Parsed {
  std::string bytes;
  Response r;
  ResponseError err;
};

// Parses `s` (CRLF appended) and keeps the bytes alive with the result.
std::unique_ptr<Parsed> parse(std::string s) {
  auto p = std::make_unique<Parsed>();
  p->bytes = std::move(s) + "\r\n";
  p->err = parse_response(p->bytes, p->r);
  return p;
}

std::unique_ptr<Parsed> ok(std::string s) {
  auto p = parse(s);
  EXPECT_FALSE(p->err) << s << " -> " << p->err.message();
  return p;
}

std::vector<std::string> atoms(const AtomList& l) { return {l.begin(), l.end()}; }

TEST(ResponseParser, TaggedStatusWithText) {
  auto p = ok("a001 OK LOGIN completed");
  EXPECT_TRUE(p->r.is_tagged());
  EXPECT_EQ(p->r.tag, "a001");
  EXPECT_EQ(p->r.status, ResponseStatus::ok);
  EXPECT_EQ(p->r.code.kind, ResponseCodeKind::none);
  EXPECT_EQ(p->r.text, "LOGIN completed");
  EXPECT_EQ(p->r.raw, "a001 OK LOGIN completed\r\n");

  auto no = ok("A2 no [TRYCREATE] Mailbox doesn't exist: Foo");
  EXPECT_EQ(no->r.status, ResponseStatus::no);
  EXPECT_EQ(no->r.code.kind, ResponseCodeKind::trycreate);
  EXPECT_EQ(no->r.text, "Mailbox doesn't exist: Foo");

  auto bad = ok("A3 BAD Error in IMAP command FOO: Unknown command.");
  EXPECT_EQ(bad->r.status, ResponseStatus::bad);
}

TEST(ResponseParser, StatusWithoutText) {
  auto p = ok("A1 OK");
  EXPECT_EQ(p->r.status, ResponseStatus::ok);
  EXPECT_EQ(p->r.text, "");
  auto q = ok("A1 OK [READ-WRITE]");
  EXPECT_EQ(q->r.code.kind, ResponseCodeKind::read_write);
}

TEST(ResponseParser, TaggedStatusMustBeOkNoBad) {
  auto p = parse("A1 PREAUTH hi");
  EXPECT_EQ(p->err.code, ResponseErrc::syntax);
  EXPECT_EQ(p->err.offset, 3u);
}

TEST(ResponseParser, Continuation) {
  auto p = ok("+ idling");
  EXPECT_TRUE(p->r.is_continuation());
  EXPECT_EQ(p->r.text, "idling");
  auto e = ok("+ ");
  EXPECT_TRUE(e->r.is_continuation());
  EXPECT_EQ(e->r.text, "");
  auto bare = ok("+");
  EXPECT_TRUE(bare->r.is_continuation());
}

TEST(ResponseParser, DovecotGreetingWithCapabilityCode) {
  auto p = ok("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
              "AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready.");
  EXPECT_EQ(p->r.untagged, UntaggedKind::condition);
  EXPECT_EQ(p->r.status, ResponseStatus::ok);
  EXPECT_EQ(p->r.code.kind, ResponseCodeKind::capability);
  EXPECT_TRUE(p->r.code.list.contains("STARTTLS"));
  EXPECT_TRUE(p->r.code.list.contains("auth=plain"));
  EXPECT_FALSE(p->r.code.list.contains("AUTH"));
  EXPECT_EQ(p->r.code.list.size(), 10u);
  EXPECT_EQ(p->r.text, "Dovecot (Debian) ready.");
}

TEST(ResponseParser, UntaggedConditions) {
  EXPECT_EQ(ok("* PREAUTH IMAP4rev1 server logged in as Smith")->r.status, ResponseStatus::preauth);
  auto bye = ok("* BYE Autologout; idle for too long");
  EXPECT_EQ(bye->r.status, ResponseStatus::bye);
  EXPECT_EQ(bye->r.text, "Autologout; idle for too long");
  EXPECT_EQ(ok("* NO Disk is 98% full, please delete unnecessary data")->r.status, ResponseStatus::no);
  EXPECT_EQ(ok("* BAD Command line too long")->r.status, ResponseStatus::bad);
}

TEST(ResponseParser, ResponseCodesWithNumbers) {
  auto a = ok("* OK [UIDVALIDITY 3857529045] UIDs valid");
  EXPECT_EQ(a->r.code.kind, ResponseCodeKind::uidvalidity);
  EXPECT_EQ(a->r.code.number, 3857529045u);
  EXPECT_EQ(ok("* OK [UIDNEXT 4392] Predicted next UID")->r.code.number, 4392u);
  EXPECT_EQ(ok("* OK [UNSEEN 12] Message 12 is first unseen")->r.code.number, 12u);
  auto h = ok("* OK [HIGHESTMODSEQ 715194045007] Highest");
  EXPECT_EQ(h->r.code.kind, ResponseCodeKind::highestmodseq);
  EXPECT_EQ(h->r.code.number, 715194045007u);
  EXPECT_EQ(ok("* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences")->r.code.kind,
            ResponseCodeKind::nomodseq);
  EXPECT_EQ(ok("* OK [CLOSED] Previous mailbox closed.")->r.code.kind, ResponseCodeKind::closed);
  EXPECT_EQ(ok("A1 OK [READ-ONLY] Examine completed")->r.code.kind, ResponseCodeKind::read_only);
  EXPECT_EQ(ok("* OK [ALERT] System shutdown in 10 minutes")->r.code.kind, ResponseCodeKind::alert);
  EXPECT_EQ(ok("* NO [COMPRESSIONACTIVE] DEFLATE active via COMPRESS")->r.code.kind,
            ResponseCodeKind::compressionactive);
  EXPECT_EQ(ok("* OK [NOTIFICATIONOVERFLOW] ...")->r.code.kind, ResponseCodeKind::notificationoverflow);
}

TEST(ResponseParser, BadNumberInCodeIsAnError) {
  auto p = parse("* OK [UIDNEXT abc] x");
  EXPECT_EQ(p->err.code, ResponseErrc::syntax);
  EXPECT_EQ(p->err.offset, 14u);
  auto q = parse("* OK [UIDVALIDITY 99999999999999999999999] x");
  EXPECT_EQ(q->err.code, ResponseErrc::number_overflow);
}

TEST(ResponseParser, UidplusCodes) {
  auto a = ok("A003 OK [APPENDUID 38505 3955] APPEND completed");
  EXPECT_EQ(a->r.code.kind, ResponseCodeKind::appenduid);
  EXPECT_EQ(a->r.code.number, 38505u);
  EXPECT_EQ(a->r.code.set1.raw(), "3955");
  auto c = ok("A004 OK [COPYUID 38505 304,319:320 3956:3958] Done");
  EXPECT_EQ(c->r.code.kind, ResponseCodeKind::copyuid);
  EXPECT_EQ(c->r.code.set1.raw(), "304,319:320");
  EXPECT_EQ(c->r.code.set2.raw(), "3956:3958");
  EXPECT_EQ(c->r.code.set1.count(), 3u);
  EXPECT_TRUE(c->r.code.set2.contains(3957));
  EXPECT_FALSE(c->r.code.set2.contains(3959));
  EXPECT_EQ(ok("A1 OK [UIDNOTSTICKY] Non-persistent UIDs")->r.code.kind, ResponseCodeKind::uidnotsticky);
  EXPECT_EQ(parse("A1 OK [COPYUID 1 2:x 3] Done")->err.code, ResponseErrc::syntax);
}

TEST(ResponseParser, PermanentFlagsAndModified) {
  auto p = ok("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited");
  EXPECT_EQ(p->r.code.kind, ResponseCodeKind::permanentflags);
  EXPECT_EQ(atoms(p->r.code.list), (std::vector<std::string>{"\\Deleted", "\\Seen", "\\*"}));
  auto m = ok("d105 OK [MODIFIED 7,9] Conditional STORE failed");
  EXPECT_EQ(m->r.code.kind, ResponseCodeKind::modified);
  EXPECT_EQ(m->r.code.set1.raw(), "7,9");
}

TEST(ResponseParser, UnknownCodeKeptRaw) {
  auto p = ok("A1 NO [X-WEIRD 1 (2 3) \"q\"] nope");
  EXPECT_EQ(p->r.code.kind, ResponseCodeKind::other);
  EXPECT_EQ(p->r.code.name, "X-WEIRD");
  EXPECT_EQ(p->r.code.args, "1 (2 3) \"q\"");
  EXPECT_EQ(p->r.text, "nope");
  auto q = ok("A2 NO [NONEXISTENT] Unknown Mailbox: Foo");
  EXPECT_EQ(q->r.code.kind, ResponseCodeKind::other);
  EXPECT_TRUE(q->r.code.is("nonexistent"));
  EXPECT_EQ(q->r.code.args, "");
  EXPECT_EQ(ok("A3 NO [METADATA LONGENTRIES 2000] Some entries are too long")->r.code.kind,
            ResponseCodeKind::metadata);
  auto b = ok("A4 NO [BADCHARSET (UTF-8 US-ASCII)] unsupported");
  EXPECT_EQ(atoms(b->r.code.list), (std::vector<std::string>{"UTF-8", "US-ASCII"}));
}

TEST(ResponseParser, Capability) {
  auto p = ok("* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED");
  EXPECT_EQ(p->r.untagged, UntaggedKind::capability);
  EXPECT_EQ(atoms(p->r.atoms), (std::vector<std::string>{"IMAP4rev1", "STARTTLS", "AUTH=GSSAPI", "LOGINDISABLED"}));
  EXPECT_TRUE(p->r.atoms.contains_prefix("AUTH="));
}

TEST(ResponseParser, Enabled) {
  auto p = ok("* ENABLED CONDSTORE QRESYNC");
  EXPECT_EQ(p->r.untagged, UntaggedKind::enabled);
  EXPECT_EQ(atoms(p->r.atoms), (std::vector<std::string>{"CONDSTORE", "QRESYNC"}));
  auto none = ok("* ENABLED");
  EXPECT_EQ(none->r.untagged, UntaggedKind::enabled);
  EXPECT_TRUE(none->r.atoms.empty());
}

TEST(ResponseParser, FlagsExistsRecentExpunge) {
  auto f = ok("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)");
  EXPECT_EQ(f->r.untagged, UntaggedKind::flags);
  EXPECT_EQ(f->r.atoms.size(), 6u);
  EXPECT_TRUE(f->r.atoms.contains("$forwarded"));
  auto e = ok("* 172 EXISTS");
  EXPECT_EQ(e->r.untagged, UntaggedKind::exists);
  EXPECT_EQ(e->r.number, 172u);
  EXPECT_EQ(ok("* 1 RECENT")->r.untagged, UntaggedKind::recent);
  auto x = ok("* 44 EXPUNGE");
  EXPECT_EQ(x->r.untagged, UntaggedKind::expunge);
  EXPECT_EQ(x->r.number, 44u);
  EXPECT_EQ(parse("* 44 EXPUNGE junk")->err.code, ResponseErrc::syntax);
  EXPECT_EQ(parse("* 4294967296 EXISTS")->err.code, ResponseErrc::number_overflow);
}

TEST(ResponseParser, ListAndLsub) {
  auto p = ok("* LIST (\\Noselect) \"/\" ~/Mail/foo");
  EXPECT_EQ(p->r.untagged, UntaggedKind::list);
  EXPECT_EQ(atoms(p->r.list.attributes), (std::vector<std::string>{"\\Noselect"}));
  EXPECT_EQ(p->r.list.delimiter, '/');
  EXPECT_EQ(p->r.list.mailbox, "~/Mail/foo");

  auto nil = ok("* LIST () NIL \"\"");
  EXPECT_FALSE(nil->r.list.delimiter.has_value());
  EXPECT_EQ(nil->r.list.mailbox, "");
  EXPECT_TRUE(nil->r.list.attributes.empty());

  auto lit = ok("* LSUB (\\HasNoChildren) \".\" {11}\r\nweird \"name");
  EXPECT_EQ(lit->r.untagged, UntaggedKind::lsub);
  EXPECT_EQ(lit->r.list.delimiter, '.');
  EXPECT_EQ(lit->r.list.mailbox, "weird \"name");

  auto esc = ok("* LIST (\\HasNoChildren) \"\\\\\" \"a \\\"b\\\" c\"");
  EXPECT_EQ(esc->r.list.delimiter, '\\');
  EXPECT_EQ(esc->r.list.mailbox, "a \"b\" c");
}

TEST(ResponseParser, ListExtended) {
  // RFC 5258 examples
  auto p = ok("* LIST () \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
  EXPECT_TRUE(p->r.list.childinfo_subscribed);
  ASSERT_EQ(p->r.list.extended.size(), 1u);
  EXPECT_EQ(p->r.list.extended[0].first, "CHILDINFO");
  EXPECT_EQ(p->r.list.extended[0].second, "(\"SUBSCRIBED\")");
  auto q = ok("* LIST (\\Subscribed \\NonExistent) \"/\" \"Fruit/Peach\"");
  EXPECT_TRUE(q->r.list.attributes.contains("\\NonExistent"));
  EXPECT_FALSE(q->r.list.childinfo_subscribed);
  auto o = ok("* LIST () \"/\" \"NewName\" (\"OLDNAME\" (\"OldName\"))");
  ASSERT_TRUE(o->r.list.oldname.has_value());
  EXPECT_EQ(*o->r.list.oldname, "OldName");
  auto d = ok("* LIST (\\HasChildren \\Subscribed \\Drafts) \"/\" Drafts");
  EXPECT_TRUE(d->r.list.attributes.contains("\\drafts"));
}

TEST(ResponseParser, Status) {
  auto p = ok("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)");
  EXPECT_EQ(p->r.untagged, UntaggedKind::status);
  EXPECT_EQ(p->r.status_data.mailbox, "blurdybloop");
  EXPECT_EQ(p->r.status_data.messages, 231u);
  EXPECT_EQ(p->r.status_data.uidnext, 44292u);
  EXPECT_FALSE(p->r.status_data.unseen.has_value());
  ASSERT_EQ(p->r.status_data.items.size(), 2u);

  // NOTIFY's unsolicited STATUS as Dovecot sends it
  auto n = ok("* STATUS \"Other Box\" (MESSAGES 3 UIDNEXT 4 UNSEEN 3 HIGHESTMODSEQ 5 UIDVALIDITY 1700000000)");
  EXPECT_EQ(n->r.status_data.mailbox, "Other Box");
  EXPECT_EQ(n->r.status_data.highestmodseq, 5u);
  EXPECT_EQ(n->r.status_data.uidvalidity, 1700000000u);
  EXPECT_EQ(n->r.status_data.unseen, 3u);

  auto s = ok("* STATUS INBOX (SIZE 123456789012 DELETED 2 APPENDLIMIT NIL)");
  EXPECT_EQ(s->r.status_data.size, 123456789012u);
  EXPECT_EQ(s->r.status_data.deleted, 2u);
  ASSERT_EQ(s->r.status_data.items.size(), 3u);
  EXPECT_TRUE(s->r.status_data.items[2].nil);

  EXPECT_EQ(ok("* STATUS INBOX ()")->r.status_data.items.size(), 0u);
  EXPECT_EQ(parse("* STATUS INBOX (MESSAGES x)")->err.code, ResponseErrc::syntax);
}

TEST(ResponseParser, SearchAndSort) {
  auto p = ok("* SEARCH 2 84 882");
  EXPECT_EQ(p->r.untagged, UntaggedKind::search);
  EXPECT_EQ(p->r.search.numbers, (std::vector<std::uint32_t>{2, 84, 882}));
  EXPECT_FALSE(p->r.search.modseq.has_value());
  auto empty = ok("* SEARCH");
  EXPECT_TRUE(empty->r.search.numbers.empty());
  auto m = ok("* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)");
  EXPECT_EQ(m->r.search.numbers.size(), 10u);
  EXPECT_EQ(m->r.search.modseq, 917162500u);
  auto s = ok("* SORT 5 3 4 1 2");
  EXPECT_EQ(s->r.untagged, UntaggedKind::sort);
  EXPECT_EQ(s->r.search.numbers.front(), 5u);
  EXPECT_EQ(parse("* SEARCH 1 x")->err.code, ResponseErrc::syntax);
}

TEST(ResponseParser, ESearch) {
  auto p = ok("* ESEARCH (TAG \"A282\") MIN 2 COUNT 3");
  EXPECT_EQ(p->r.untagged, UntaggedKind::esearch);
  EXPECT_EQ(p->r.esearch.tag, "A282");
  EXPECT_FALSE(p->r.esearch.uid);
  EXPECT_EQ(p->r.esearch.min, 2u);
  EXPECT_EQ(p->r.esearch.count, 3u);
  EXPECT_FALSE(p->r.esearch.max.has_value());
  auto u = ok("* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800");
  EXPECT_TRUE(u->r.esearch.uid);
  EXPECT_EQ(u->r.esearch.max, 3800u);
  auto a = ok("* ESEARCH (TAG \"A284\") ALL 4:5,7,11:13 MODSEQ 917162500");
  ASSERT_TRUE(a->r.esearch.all.has_value());
  EXPECT_EQ(a->r.esearch.all->count(), 6u);
  EXPECT_EQ(a->r.esearch.modseq, 917162500u);
  auto e = ok("* ESEARCH (TAG \"A283\")");
  EXPECT_FALSE(e->r.esearch.count.has_value());
  auto x = ok("* ESEARCH UID PARTIAL (1:10 100:110) COUNT 9");
  ASSERT_EQ(x->r.esearch.other.size(), 1u);
  EXPECT_EQ(x->r.esearch.other[0].first, "PARTIAL");
  EXPECT_EQ(x->r.esearch.other[0].second, "(1:10 100:110)");
  EXPECT_EQ(x->r.esearch.count, 9u);
}

TEST(ResponseParser, Vanished) {
  auto p = ok("* VANISHED (EARLIER) 41,43:116,118,120:211,214:540");
  EXPECT_EQ(p->r.untagged, UntaggedKind::vanished);
  EXPECT_TRUE(p->r.vanished.earlier);
  EXPECT_TRUE(p->r.vanished.uids.contains(100));
  EXPECT_FALSE(p->r.vanished.uids.contains(42));
  std::vector<NumberSet::Range> ranges(p->r.vanished.uids.begin(), p->r.vanished.uids.end());
  ASSERT_EQ(ranges.size(), 5u);
  EXPECT_EQ(ranges[1], (NumberSet::Range{43, 116}));
  auto q = ok("* VANISHED 405,407,410,425");
  EXPECT_FALSE(q->r.vanished.earlier);
  EXPECT_EQ(q->r.vanished.uids.count(), 4u);
  EXPECT_EQ(parse("* VANISHED (LATER) 1")->err.code, ResponseErrc::syntax);
  EXPECT_EQ(parse("* VANISHED 1,,2")->err.code, ResponseErrc::syntax);
}

TEST(ResponseParser, Id) {
  auto p = ok("* ID (\"name\" \"Dovecot\" \"version\" NIL)");
  EXPECT_EQ(p->r.untagged, UntaggedKind::id);
  EXPECT_FALSE(p->r.id.nil);
  ASSERT_EQ(p->r.id.fields.size(), 2u);
  EXPECT_EQ(p->r.id.fields[0].first, "name");
  EXPECT_EQ(p->r.id.fields[0].second.str, "Dovecot");
  EXPECT_TRUE(p->r.id.fields[1].second.nil);
  EXPECT_TRUE(ok("* ID NIL")->r.id.nil);
}

TEST(ResponseParser, Metadata) {
  auto p = ok("* METADATA \"INBOX\" (/private/comment \"My own comment\" /shared/comment NIL)");
  EXPECT_EQ(p->r.untagged, UntaggedKind::metadata);
  EXPECT_EQ(p->r.metadata.mailbox, "INBOX");
  EXPECT_TRUE(p->r.metadata.has_values);
  ASSERT_EQ(p->r.metadata.entries.size(), 2u);
  EXPECT_EQ(p->r.metadata.entries[0].first, "/private/comment");
  EXPECT_EQ(p->r.metadata.entries[0].second.str, "My own comment");
  EXPECT_TRUE(p->r.metadata.entries[1].second.nil);
  auto lit = ok("* METADATA \"\" (/private/vendor/vendor.dovecot/http-notify {10}\r\nuser=alice)");
  EXPECT_EQ(lit->r.metadata.mailbox, "");
  EXPECT_EQ(lit->r.metadata.entries[0].second.str, "user=alice");
  auto u = ok("* METADATA \"\" /shared/comment /private/comment");
  EXPECT_FALSE(u->r.metadata.has_values);
  ASSERT_EQ(u->r.metadata.entries.size(), 2u);
  EXPECT_EQ(u->r.metadata.entries[1].first, "/private/comment");
}

TEST(ResponseParser, Namespace) {
  auto p = ok("* NAMESPACE ((\"\" \"/\")) NIL NIL");
  EXPECT_EQ(p->r.untagged, UntaggedKind::namespace_);
  ASSERT_EQ(p->r.namespaces.personal.size(), 1u);
  EXPECT_EQ(p->r.namespaces.personal[0].prefix, "");
  EXPECT_EQ(p->r.namespaces.personal[0].delimiter, '/');
  EXPECT_TRUE(p->r.namespaces.other_users.empty());
  auto q = ok("* NAMESPACE ((\"\" \"/\")(\"#mh/\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) "
              "((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" NIL))");
  ASSERT_EQ(q->r.namespaces.personal.size(), 2u);
  EXPECT_EQ(q->r.namespaces.personal[1].extensions, "\"X-PARAM\" (\"FLAG1\" \"FLAG2\")");
  ASSERT_EQ(q->r.namespaces.shared.size(), 4u);
  EXPECT_FALSE(q->r.namespaces.shared[3].delimiter.has_value());
  EXPECT_EQ(q->r.namespaces.other_users[0].prefix, "~");
}

TEST(ResponseParser, FetchSimpleAttributes) {
  auto p = ok("* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
              "RFC822.SIZE 4286 UID 54 MODSEQ (12121231000))");
  EXPECT_EQ(p->r.untagged, UntaggedKind::fetch);
  EXPECT_EQ(p->r.number, 12u);
  const FetchData& f = p->r.fetch;
  ASSERT_EQ(f.items.size(), 5u);
  EXPECT_EQ(atoms(f.items[0].flags), (std::vector<std::string>{"\\Seen"}));
  EXPECT_EQ(f.items[1].attr, FetchAttr::internaldate);
  EXPECT_EQ(f.items[1].string.str, "17-Jul-1996 02:44:25 -0700");
  EXPECT_EQ(f.find(FetchAttr::rfc822_size)->number, 4286u);
  EXPECT_EQ(f.uid(), 54u);
  EXPECT_EQ(f.modseq(), 12121231000u);
  EXPECT_EQ(f.items[4].raw, "(12121231000)");
}

TEST(ResponseParser, FetchBodySectionsAndLiterals) {
  using namespace std::string_literals;
  auto p = ok("* 2 FETCH (UID 7 BODY[HEADER.FIELDS (FROM \"SUBJECT\")]<0> {15}\r\nSubject: hi\r\n\r\n"
              " BODY[1.2] \"part\" BODY[] NIL BINARY[1]<5> ~{3}\r\n\0\1\2 BINARY.SIZE[1] 3 RFC822.HEADER {2}\r\n\r\n)"s);
  ASSERT_FALSE(p->err) << p->err.message();
  const FetchData& f = p->r.fetch;
  ASSERT_EQ(f.items.size(), 7u);
  const FetchItem& h = f.items[1];
  EXPECT_EQ(h.attr, FetchAttr::body_section);
  EXPECT_EQ(h.section, "HEADER.FIELDS (FROM \"SUBJECT\")");
  EXPECT_TRUE(h.has_origin);
  EXPECT_EQ(h.origin, 0u);
  EXPECT_EQ(h.string.str, "Subject: hi\r\n\r\n");
  EXPECT_EQ(h.raw, "{15}\r\nSubject: hi\r\n\r\n");
  EXPECT_EQ(f.find_section("1.2")->string.str, "part");
  const FetchItem* whole = f.find_section("");
  ASSERT_NE(whole, nullptr);
  EXPECT_TRUE(whole->string.nil);
  const FetchItem& bin = f.items[4];
  EXPECT_EQ(bin.attr, FetchAttr::binary_section);
  EXPECT_EQ(bin.origin, 5u);
  EXPECT_EQ(bin.string.str, std::string_view("\0\1\2", 3));
  EXPECT_EQ(f.items[5].attr, FetchAttr::binary_size);
  EXPECT_EQ(f.items[5].number, 3u);
  EXPECT_EQ(f.items[6].attr, FetchAttr::rfc822_header);
  EXPECT_EQ(f.items[6].string.str, "\r\n");
}

TEST(ResponseParser, FetchEnvelopeAndBodystructureAreDelimitedRaw) {
  const std::string env =
      "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) "
      "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
      "\"<B27397-0100000@cac.washington.edu>\")";
  const std::string body = "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)";
  auto p = ok("* 12 FETCH (ENVELOPE " + env + " BODY " + body + ")");
  ASSERT_EQ(p->r.fetch.items.size(), 2u);
  EXPECT_EQ(p->r.fetch.items[0].attr, FetchAttr::envelope);
  EXPECT_EQ(p->r.fetch.items[0].raw, env);
  EXPECT_EQ(p->r.fetch.items[1].attr, FetchAttr::body);
  EXPECT_EQ(p->r.fetch.items[1].raw, body);
}

TEST(ResponseParser, FetchUnknownAttributesKeptRaw) {
  auto p = ok("* 1 FETCH (X-GM-MSGID 1278455344230334865 SAVEDATE \"01-Jan-2024 00:00:00 +0000\" "
              "PREVIEW {5}\r\nhello EMAILID (M6d99ac3275bb4e) X-LIST (a (b \"c\")))");
  ASSERT_FALSE(p->err) << p->err.message();
  ASSERT_EQ(p->r.fetch.items.size(), 5u);
  for (const auto& it : p->r.fetch.items) EXPECT_EQ(it.attr, FetchAttr::other);
  EXPECT_EQ(p->r.fetch.items[0].raw, "1278455344230334865");
  EXPECT_EQ(p->r.fetch.items[2].raw, "{5}\r\nhello");
  EXPECT_EQ(p->r.fetch.items[4].raw, "(a (b \"c\"))");
}

TEST(ResponseParser, FetchErrorsPointAtTheProblem) {
  auto p = parse("* 1 FETCH (UID x)");
  EXPECT_EQ(p->err.code, ResponseErrc::syntax);
  EXPECT_EQ(p->err.offset, 15u);
  EXPECT_EQ(p->err.expected, "uid");
  auto q = parse("* 1 FETCH (FLAGS (\\Seen)");
  EXPECT_EQ(q->err.code, ResponseErrc::unexpected_end);
  auto r = parse("* 1 FETCH (BODY[] {10}\r\nabc)");
  EXPECT_EQ(r->err.code, ResponseErrc::unexpected_end);
  auto s = parse("* 1 FETCH (UID 4294967296)");
  EXPECT_EQ(s->err.code, ResponseErrc::number_overflow);
}

TEST(ResponseParser, DepthLimit) {
  std::string deep = "* 1 FETCH (BODYSTRUCTURE " + std::string(300, '(') + std::string(300, ')') + ")";
  auto p = parse(deep);
  EXPECT_EQ(p->err.code, ResponseErrc::too_deep);
  ResponseLimits l;
  l.max_depth = 400;
  Response r;
  const std::string bytes = deep + "\r\n";
  EXPECT_FALSE(parse_response(bytes, r, l));
}

TEST(ResponseParser, UnknownResponsesBecomeTrees) {
  auto p = ok("* QUOTA \"\" (STORAGE 10 512)");
  EXPECT_EQ(p->r.untagged, UntaggedKind::other);
  EXPECT_EQ(p->r.name, "QUOTA");
  ASSERT_EQ(p->r.tree.size(), 2u);
  EXPECT_EQ(p->r.tree[0].kind(), TreeKind::string);
  EXPECT_EQ(p->r.tree[0].text(), "");
  ASSERT_TRUE(p->r.tree[1].is_list());
  EXPECT_EQ(p->r.tree[1].size(), 3u);
  EXPECT_TRUE(p->r.tree[1][0].is_atom("storage"));
  EXPECT_EQ(p->r.tree[1][2].text(), "512");

  auto n = ok("* 3 XTHING {3}\r\nabc NIL");
  EXPECT_EQ(n->r.untagged, UntaggedKind::other);
  EXPECT_TRUE(n->r.has_number);
  EXPECT_EQ(n->r.number, 3u);
  ASSERT_EQ(n->r.tree.size(), 2u);
  EXPECT_EQ(n->r.tree[0].text(), "abc");
  EXPECT_TRUE(n->r.tree[1].is_nil());

  auto t = ok("* THREAD (2)(3 6 (4 23)(44 7 96))");
  EXPECT_EQ(t->r.untagged, UntaggedKind::other);
  ASSERT_EQ(t->r.tree.size(), 2u);
  EXPECT_EQ(t->r.tree[1][2][1].text(), "23");
  EXPECT_EQ(ok("* XNOARGS")->r.tree.size(), 0u);
}

TEST(ResponseParser, BadStarts) {
  EXPECT_EQ(parse("")->err.code, ResponseErrc::empty_line);
  EXPECT_EQ(parse(" OK")->err.code, ResponseErrc::bad_start);
  EXPECT_EQ(parse("a+b OK x")->err.code, ResponseErrc::bad_start);
  EXPECT_EQ(parse("*OK x")->err.code, ResponseErrc::syntax);
  EXPECT_EQ(parse("* ")->err.code, ResponseErrc::unexpected_end);
}

TEST(ResponseParser, QuotedEscapesAreUnescaped) {
  auto p = ok("* 1 FETCH (INTERNALDATE \"a\\\\b\\\"c\")");
  EXPECT_EQ(p->r.fetch.items[0].string.str, "a\\b\"c");
  EXPECT_EQ(parse("* 1 FETCH (INTERNALDATE \"abc)")->err.code, ResponseErrc::unexpected_end);
}

TEST(ResponseParser, ResponseIsReusableAcrossKinds) {
  Response r;
  const std::string a = "* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n";
  const std::string b = "* SEARCH 1 2\r\n";
  const std::string c = "* 2 FETCH (UID 2)\r\n";
  ASSERT_FALSE(parse_response(a, r));
  ASSERT_FALSE(parse_response(b, r));
  EXPECT_TRUE(r.fetch.items.empty());
  EXPECT_EQ(r.search.numbers.size(), 2u);
  ASSERT_FALSE(parse_response(c, r));
  EXPECT_TRUE(r.search.numbers.empty());
  ASSERT_EQ(r.fetch.items.size(), 1u);
  EXPECT_EQ(r.fetch.uid(), 2u);
}

}  // namespace
}  // namespace pimap::imap
