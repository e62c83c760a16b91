// Serializer: the form chosen for each string, literal flavours, hand-built commands, and
// parse -> serialize -> parse round trips for every command type.

#include <gtest/gtest.h>

#include "command_test_util.hpp"

namespace pimap::imap {
namespace {

using testing::parse_ok;
using namespace std::string_literals;

std::string astr(std::string_view s, SerializeOptions o = {}) {
  std::string out;
  Serializer(out, o).astring(s);
  return out;
}

TEST(Serializer, StringForms) {
  EXPECT_EQ(astr("INBOX"), "INBOX");
  EXPECT_EQ(astr("Sent Items"), "\"Sent Items\"");
  EXPECT_EQ(astr(""), "\"\"");
  EXPECT_EQ(astr("NIL"), "\"NIL\"");  // an atom NIL would read as no string at all
  EXPECT_EQ(astr("nil"), "\"nil\"");
  EXPECT_EQ(astr("a]b"), "\"a]b\"");  // ']' is legal in an astring atom, but not inside BODY[...]
  EXPECT_EQ(astr("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
  EXPECT_EQ(astr("a%b"), "\"a%b\"");
  EXPECT_EQ(astr("two\r\nlines"), "{10}\r\ntwo\r\nlines");
  EXPECT_EQ(astr("gr\xc3\xbc\xc3\x9f"), "{6}\r\ngr\xc3\xbc\xc3\x9f");
  EXPECT_EQ(astr(std::string(2000, 'x')), std::string(2000, 'x'));  // atoms have no length limit
  EXPECT_EQ(astr(std::string(1025, ' ')), "{1025}\r\n" + std::string(1025, ' '));
  EXPECT_EQ(astr("a b", SerializeOptions{false, false, 2}), "{3}\r\na b");
  EXPECT_EQ(astring_form("x y"), StringForm::quoted);
  EXPECT_EQ(string_form("INBOX"), StringForm::quoted);

  std::string out;
  Serializer s(out);
  s.string("INBOX").sp().nstring(std::nullopt).sp().nstring("NIL").sp().list_mailbox("foo/%").sp().list_mailbox("a b");
  EXPECT_EQ(out, "\"INBOX\" NIL \"NIL\" foo/% \"a b\"");
}

TEST(Serializer, LiteralFlavoursAndSyncPoints) {
  EXPECT_EQ(astr("a\nb", SerializeOptions{true, false, 1024}), "{3+}\r\na\nb");
  const std::string big(5000, 'x');
  EXPECT_EQ(astr("a\nb", SerializeOptions{false, true, 1024}), "{3+}\r\na\nb");
  EXPECT_EQ(astr(big + "\n", SerializeOptions{false, true, 1024}).substr(0, 8), "{5001}\r\n");

  std::string out;
  Serializer s(out);
  s.raw("a LOGIN ").astring("us\ner").sp().astring("pw\r\n").crlf();
  EXPECT_EQ(out, "a LOGIN {5}\r\nus\ner {4}\r\npw\r\n\r\n");
  EXPECT_EQ(s.sync_points(), (std::vector<std::size_t>{13, 24}));
  EXPECT_EQ(out.substr(0, 13), "a LOGIN {5}\r\n");

  std::string plus;
  Serializer p(plus, SerializeOptions{true, false, 1024});
  p.astring("x\ny");
  EXPECT_TRUE(p.sync_points().empty());
}

TEST(Serializer, AppendWithNulUsesBinaryLiteral) {
  const Command c = parse_ok(std::string("a APPEND INBOX ~{3}\r\na\0b\r\n", 26));
  EXPECT_EQ(serialize(c), std::string("a APPEND INBOX ~{3}\r\na\0b\r\n", 26));
}

TEST(Serializer, HandBuiltCommand) {
  Command c;
  c.tag = "d17";
  c.kind = CommandKind::fetch;
  c.uid = true;
  Fetch f;
  f.set = SequenceSet{false, {{4000, kStar}, {12, 12}}};
  FetchAtt uid;
  uid.kind = FetchAttKind::uid;
  FetchAtt hdr;
  hdr.kind = FetchAttKind::body_section;
  hdr.peek = true;
  hdr.section.text = SectionText::header_fields;
  hdr.section.fields = {"From", "Subject", "X-Odd Name"};
  hdr.partial = Partial{0, 512};
  f.atts = {uid, hdr};
  f.changed_since = 99;
  f.vanished = true;
  c.body = f;
  const std::string text = serialize(c);
  EXPECT_EQ(text,
            "d17 UID FETCH 4000:*,12 (UID BODY.PEEK[HEADER.FIELDS (From Subject \"X-Odd Name\")]<0.512>) "
            "(CHANGEDSINCE 99 VANISHED)\r\n");
  EXPECT_EQ(parse_ok(text), c);
  EXPECT_EQ(to_string(SequenceSet{false, {{1, 1}, {3, 5}, {7, kStar}}}), "1,3:5,7:*");
  EXPECT_EQ(to_string(SequenceSet{true, {}}), "$");
}

TEST(Serializer, FilterMailboxNamedAllStaysAMailbox) {
  Command c = parse_ok("a XFILTER \"ALL\" V SEEN\r\n");
  EXPECT_EQ(serialize(c), "a XFILTER \"ALL\" V SEEN\r\n");
  EXPECT_EQ(serialize(parse_ok("a XFILTER all V SEEN\r\n")), "a XFILTER ALL V SEEN\r\n");
}

// One example of every command type (and the tricky spellings of their arguments).
const std::vector<std::string> kRoundTrip = {
    "abcd CAPABILITY\r\n",
    "a NOOP\r\n",
    "a LOGOUT\r\n",
    "a STARTTLS\r\n",
    "a CHECK\r\n",
    "a CLOSE\r\n",
    "a UNSELECT\r\n",
    "a EXPUNGE\r\n",
    "a IDLE\r\n",
    "a NAMESPACE\r\n",
    "a023 ID (\"name\" \"sodr\" \"version\" \"19.34\")\r\n",
    "a ID NIL\r\n",
    "a001 LOGIN SMITH SESAME\r\n",
    "a LOGIN \"\" \"NIL\"\r\n",
    "a LOGIN {5}\r\nfr\ned \"p\\\"w\\\\d\"\r\n",
    "a LOGIN \"joe#Pdev-1@example.com\" {6}\r\ngr\xc3\xbc\xc3\x9f\r\n",
    "A001 AUTHENTICATE GSSAPI\r\n",
    "a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
    "a AUTHENTICATE EXTERNAL =\r\n",
    "A142 SELECT INBOX\r\n",
    "A142 select \"Sent Items\" (CONDSTORE)\r\n",
    "A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
    "B04 EXAMINE INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9990:9999 15000,22500,29997)))\r\n",
    "a SELECT INBOX (CONDSTORE QRESYNC (1 2 (1:3 7:9)))\r\n",
    "A003 CREATE owatagusiam/\r\n",
    "A683 DELETE \"a]b\"\r\n",
    "A683 RENAME blurdybloop sarasoop\r\n",
    "A002 SUBSCRIBE #news.comp.mail.mime\r\n",
    "A002 UNSUBSCRIBE NIL-but-not\r\n",
    "A101 LIST \"\" \"\"\r\n",
    "A202 LIST ~/Mail/ %\r\n",
    "A002 LSUB \"#news.\" \"comp.mail.*\"\r\n",
    "A04 LIST (SUBSCRIBED REMOTE) \"\" (\"*\" % \"a b\") RETURN (CHILDREN STATUS (MESSAGES))\r\n",
    "A042 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)\r\n",
    "A003 APPEND saved-messages (\\Seen) {5}\r\nhello\r\n",
    "A003 APPEND x \" 7-Feb-1994 21:52:25 -0800\" {5+}\r\nfirst (\\Seen $Forwarded) \"07-Feb-1994 22:43:04 +0100\" {0}\r\n ~{1}\r\nz\r\n",
    "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
    "A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXX\r\nXX\r\n",
    "A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994\r\n",
    "A282 SEARCH RETURN () ALL\r\n",
    "a UID SEARCH $\r\n",
    "a SEARCH ALL ANSWERED BCC b BEFORE 1-Jan-2000 BODY x CC c DELETED DRAFT FLAGGED FROM f "
    "HEADER X-Foo \"\" KEYWORD $Junk LARGER 100 NEW NOT SEEN OLD ON \"2-Mar-2001\" OR SEEN (UNSEEN DRAFT) "
    "RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 SINCE 1-Jan-2000 "
    "SMALLER 5 SUBJECT NIL TEXT t TO u UID 1:* UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD k "
    "UNSEEN 2,4:6 (SEEN FLAGGED) YOUNGER 259200 OLDER 10 MODSEQ 12345 DAYSBEFORETODAY 0\r\n",
    "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
    "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
    "A999 UID FETCH 4827313:4828442 FLAGS\r\n",
    "a FETCH 1:* ALL\r\n",
    "a FETCH 1 FAST\r\n",
    "a FETCH 1 FULL\r\n",
    "a FETCH 1 (BODY.PEEK[1.2.MIME] BODY[]<0.2048> BODY[TEXT] BODY[3.HEADER.FIELDS.NOT (Received \"a]\")] "
    "BODY BODYSTRUCTURE ENVELOPE INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT UID "
    "BINARY[1]<0.100> BINARY.PEEK[] BINARY.SIZE[2] MODSEQ X-GM-MSGID BODY[1.HEADER] BODY[2.TEXT])\r\n",
    "s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
    "s100 UID FETCH 300:500 (FLAGS) (VANISHED CHANGEDSINCE 12345)\r\n",
    "A003 STORE 2:4 +FLAGS (\\Deleted)\r\n",
    "a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n",
    "a STORE 1 -FLAGS \\Seen $Label1\r\n",
    "a STORE 1 FLAGS ()\r\n",
    "a STORE $ FLAGS.SILENT (\\Seen)\r\n",
    "A003 COPY 2:4 MEEPLE\r\n",
    "a UID COPY 1 \"Sent Items\"\r\n",
    "a MOVE 1:* Trash\r\n",
    "a UID MOVE 42:69 foo\r\n",
    "A003 UID EXPUNGE 3000:3002\r\n",
    "t2 ENABLE CONDSTORE X-GOOD-IDEA\r\n",
    "a COMPRESS DEFLATE\r\n",
    "a NOTIFY SET STATUS (selected MessageNew (UID BODY.PEEK[HEADER.FIELDS (from to subject)]) "
    "MessageExpunge) (subtree Lists MessageNew)\r\n",
    "a NOTIFY NONE\r\n",
    "a1 XSETPIMAPPREF PIMAP_OUTBAND_CHANNEL WAP_PUSH\r\n",
    "a XSETPIMAPPREF PIMAP_OUTBAND_ADDRESS +4917012345678 PIMAP_INBAND_PUSH ON\r\n",
    "a XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT (UID FLAGS ENVELOPE BODY.PEEK[HEADER])\r\n",
    "a XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT NONE\r\n",
    "a2 XGETPIMAPPREF (PIMAP_OUTBAND_CHANNEL PIMAP_EVENT_FILTER)\r\n",
    "a2 XGETPIMAPPREF (PIMAP_OUTBAND_CHANNEL)\r\n",
    "a2 XGETPIMAPPREFS PIMAP_INBAND_PUSH\r\n",
    "a XGETPIMAPPREF\r\n",
    "a XPROVISION\r\n",
    "a XPROVISION XFILTER (V \"N\" {1}\r\nB)\r\n",
    "a XFILTER INBOX V DAYSBEFORETODAY 7 UNDELETED\r\n",
    "a XFILTER ALL B NONE\r\n",
    "a XFILTER \"ALL\" N OR FROM boss@example.com (KEYWORD $Important NOT SEEN)\r\n",
    "a XFILTER Sent N GET\r\n",
    "a XDELIVER N {11}\r\nSubject: hi\r\n",
    "a XDELIVER F INBOX 4711 Y SAVETO=\"Sent Items\" {5+}\r\nhello\r\n",
    "a XDELIVER R Archive 3 N SAVETO=Sent {1}\r\nx\r\n",
    "z1 XZIP i1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7)\r\n",
    "z XZIP y XZIP x LOGIN {3}\r\nabc pw\r\n",
    "a XCONVERT 3 2 AS text/plain\r\n",
    "a UID XCONVERT 4711 1.2 AS image/jpeg (WIDTH 320 HEIGHT 240 NAME \"a b\")\r\n",
    "a XMACRO DEFINE sync (SELECT $1) (UID FETCH $2:* (FLAGS))\r\n",
    "a XMACRO RUN STATECOMPARE (INBOX 3857529045 20010715194045000) (\"Sent Items\" 1 5)\r\n",
    "a XMACRO RUN mine\r\n",
    "a XMACRO LIST\r\n",
    "a XMACRO DELETE sync\r\n",
    "a7 UID SORT (DATE) UTF-8 ALL\r\n",
    "b X-WEIRD foo BODY[HEADER.FIELDS (A \"]\")]<1.2> {3}\r\nabc (\"x\" NIL) \\Seen ~{2}\r\n\0! ()\r\n"s,
    "a GETQUOTAROOT INBOX\r\n",
};

TEST(Serializer, RoundTripEveryCommandType) {
  int n = 0;
  for (const std::string& text : kRoundTrip) {
    const Command first = parse_ok(text);
    ASSERT_FALSE(first.tag.empty()) << text;
    EXPECT_EQ(first.raw, text);
    for (const SerializeOptions& o : {SerializeOptions{}, SerializeOptions{true, false, 1024},
                                      SerializeOptions{false, true, 4}}) {
      const std::string out = serialize(first, o);
      const Command second = parse_ok(out);
      EXPECT_EQ(second, first) << "in:  " << text << "out: " << out;
      EXPECT_EQ(serialize(second, o), out) << "not canonical: " << out;
    }
    ++n;
  }
  EXPECT_EQ(n, static_cast<int>(kRoundTrip.size()));
}

TEST(Serializer, EqualityIsSemantic) {
  EXPECT_EQ(parse_ok("a FETCH 1 FLAGS\r\n"), parse_ok("a fetch 1 (FLAGS)\r\n"));
  EXPECT_EQ(parse_ok("a LOGIN {3}\r\nabc x\r\n"), parse_ok("a LOGIN \"abc\" x\r\n"));
  EXPECT_FALSE(parse_ok("a LOGIN abc x\r\n") == parse_ok("b LOGIN abc x\r\n"));
  EXPECT_FALSE(parse_ok("a FETCH 1 FLAGS\r\n") == parse_ok("a UID FETCH 1 FLAGS\r\n"));
  EXPECT_FALSE(parse_ok("a XFOO x\r\n") == parse_ok("a XBAR x\r\n"));
  EXPECT_EQ(parse_ok("a XFOO x\r\n"), parse_ok("a xfoo x\r\n"));
  EXPECT_FALSE(parse_ok("a XFOO x\r\n") == parse_ok("a XFOO \"x\"\r\n"));  // atom vs string differ
}

}  // namespace
}  // namespace pimap::imap
