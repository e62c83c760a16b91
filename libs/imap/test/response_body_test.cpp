// ENVELOPE / BODYSTRUCTURE decoding, from RFC 3501 examples and from what Dovecot 2.3 sent for the
// messages in test/response_data (delivered by LMTP: a plain mail, a multipart/mixed with an
// alternative part, an attachment with disposition/language/location and a message/rfc822 with a
// group address, and a mail whose subject Dovecot sends as a literal).

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "pimap/imap/response_body.hpp"
#include "pimap/imap/response_reader.hpp"

namespace pimap::imap {
namespace {

std::string recorded() {
  std::ifstream f(std::string(PIMAP_IMAP_TEST_DIR) + "/response_data/dovecot-session1.txt", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The raw value of attribute `attr` in the first FETCH of message `msg` that carries it.
std::string fetched(const std::string& stream, std::uint32_t msg, FetchAttr attr) {
  ResponseReader reader;
  reader.feed(stream);
  Response r;
  while (reader.next(r) != ReadStatus::need_more) {
    if (r.untagged != UntaggedKind::fetch || r.number != msg) continue;
    if (const FetchItem* it = r.fetch.find(attr)) return std::string(it->raw);
  }
  return {};
}

TEST(ResponseBody, Rfc3501Envelope) {
  const std::string raw =
      "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) "
      "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
      "\"<B27397-0100000@cac.washington.edu>\")";
  FetchEnvelope e;
  ASSERT_FALSE(parse_envelope(raw, e));
  EXPECT_EQ(e.date.str, "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)");
  EXPECT_EQ(e.subject.str, "IMAP4rev1 WG mtg summary and minutes");
  ASSERT_EQ(e.from.size(), 1u);
  EXPECT_EQ(e.from[0].name.str, "Terry Gray");
  EXPECT_TRUE(e.from[0].adl.nil);
  EXPECT_EQ(e.from[0].mailbox.str, "gray");
  EXPECT_EQ(e.from[0].host.str, "cac.washington.edu");
  ASSERT_EQ(e.cc.size(), 2u);
  EXPECT_EQ(e.cc[1].mailbox.str, "KLENSIN");
  EXPECT_TRUE(e.bcc.empty());
  EXPECT_TRUE(e.in_reply_to.nil);
  EXPECT_EQ(e.message_id.str, "<B27397-0100000@cac.washington.edu>");
}

TEST(ResponseBody, EnvelopeErrors) {
  FetchEnvelope e;
  EXPECT_EQ(parse_envelope("(NIL NIL)", e).code, ResponseErrc::syntax);
  EXPECT_EQ(parse_envelope("(NIL", e).code, ResponseErrc::unexpected_end);
  EXPECT_EQ(parse_envelope("(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) x", e).code, ResponseErrc::syntax);
  EXPECT_FALSE(parse_envelope("(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)", e));
}

TEST(ResponseBody, Rfc3501SinglePartBody) {
  FetchBodyStructure b;
  ASSERT_FALSE(parse_bodystructure("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)", b));
  EXPECT_FALSE(b.root.multipart);
  EXPECT_TRUE(b.root.is("text", "plain"));
  ASSERT_EQ(b.root.params.size(), 1u);
  EXPECT_EQ(b.root.params[0].second, "US-ASCII");
  EXPECT_EQ(b.root.encoding.str, "7BIT");
  EXPECT_EQ(b.root.size, 3028u);
  EXPECT_EQ(b.root.lines, 92u);
  EXPECT_FALSE(b.root.has_extension);
}

TEST(ResponseBody, Rfc3501MultipartBody) {
  FetchBodyStructure b;
  ASSERT_FALSE(parse_bodystructure(
      "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" "
      "(\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" "
      "\"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\")",
      b));
  EXPECT_TRUE(b.root.multipart);
  EXPECT_EQ(b.root.subtype, "MIXED");
  ASSERT_EQ(b.root.parts.size(), 2u);
  EXPECT_EQ(b.root.parts[1].params.size(), 2u);
  EXPECT_EQ(b.root.parts[1].id.str, "<960723163407.20117h@cac.washington.edu>");
  EXPECT_EQ(b.root.parts[1].description.str, "Compiler diff");
  EXPECT_EQ(b.find("2"), &b.root.parts[1]);
  EXPECT_EQ(b.find("3"), nullptr);
}

TEST(ResponseBody, DovecotNestedBodystructure) {
  const std::string raw = fetched(recorded(), 2, FetchAttr::bodystructure);
  ASSERT_FALSE(raw.empty());
  FetchBodyStructure b;
  const ResponseError err = parse_bodystructure(raw, b);
  ASSERT_FALSE(err) << err.message();
  const FetchBodyPart& root = b.root;
  EXPECT_TRUE(root.multipart);
  EXPECT_TRUE(root.is("multipart", "mixed"));
  EXPECT_TRUE(root.has_extension);
  ASSERT_EQ(root.params.size(), 1u);
  EXPECT_EQ(root.params[0].first, "boundary");
  ASSERT_EQ(root.parts.size(), 3u);

  const FetchBodyPart& alt = root.parts[0];
  EXPECT_TRUE(alt.is("multipart", "alternative"));
  ASSERT_EQ(alt.parts.size(), 2u);
  EXPECT_TRUE(alt.parts[1].is("text", "html"));
  EXPECT_EQ(alt.parts[1].encoding.str, "base64");
  EXPECT_EQ(alt.parts[1].lines, 1u);

  const FetchBodyPart& att = root.parts[1];
  EXPECT_TRUE(att.is("application", "octet-stream"));
  EXPECT_EQ(att.size, 7008u);
  EXPECT_EQ(att.disposition.str, "attachment");
  ASSERT_EQ(att.disposition_params.size(), 1u);
  EXPECT_EQ(att.disposition_params[0].second, "data.bin");
  EXPECT_EQ(att.language, (std::vector<std::string_view>{"en", "de"}));
  EXPECT_EQ(att.location.str, "http://example.test/x");

  const FetchBodyPart& msg = root.parts[2];
  EXPECT_TRUE(msg.is("message", "rfc822"));
  ASSERT_NE(msg.envelope, nullptr);
  EXPECT_EQ(msg.envelope->subject.str, "inner message");
  // Group syntax: start marker (host NIL), members, end marker.
  ASSERT_EQ(msg.envelope->cc.size(), 4u);
  EXPECT_EQ(msg.envelope->cc[0].mailbox.str, "Group");
  EXPECT_TRUE(msg.envelope->cc[0].host.nil);
  EXPECT_TRUE(msg.envelope->cc[3].mailbox.nil);
  ASSERT_EQ(msg.parts.size(), 1u);
  EXPECT_TRUE(msg.parts[0].is("text", "plain"));
  EXPECT_EQ(msg.lines, 9u);

  EXPECT_EQ(b.find("1.2"), &alt.parts[1]);
  EXPECT_EQ(b.find("3"), &msg);
  EXPECT_EQ(b.find("3.1"), &msg.parts[0]);
  EXPECT_EQ(b.find(""), &root);
  EXPECT_EQ(b.find("1.3"), nullptr);
}

TEST(ResponseBody, DovecotEnvelopeWithLiteralSubject) {
  const std::string raw = fetched(recorded(), 3, FetchAttr::envelope);
  ASSERT_FALSE(raw.empty());
  FetchEnvelope e;
  ASSERT_FALSE(parse_envelope(raw, e));
  EXPECT_EQ(e.subject.str, "line1 continued with {braces} and \"quotes\" and \\ backslash");
  ASSERT_EQ(e.from.size(), 1u);
  EXPECT_EQ(e.from[0].name.str, "weird quoted");
}

TEST(ResponseBody, NonExtensibleBodyFromDovecot) {
  const std::string raw = fetched(recorded(), 2, FetchAttr::body);
  FetchBodyStructure b;
  ASSERT_FALSE(parse_bodystructure(raw, b));
  EXPECT_FALSE(b.root.has_extension);
  ASSERT_EQ(b.root.parts.size(), 3u);
  EXPECT_FALSE(b.root.parts[1].has_extension);
}

TEST(ResponseBody, EscapedStringsLiveInTheArena) {
  FetchBodyStructure b;
  const std::string raw = "(\"text\" \"plain\" (\"name\" \"a \\\"b\\\"\") NIL NIL \"7bit\" 1 1)";
  ASSERT_FALSE(parse_bodystructure(raw, b));
  EXPECT_EQ(b.root.params[0].second, "a \"b\"");
  // Moving the result keeps the views valid.
  FetchBodyStructure moved = std::move(b);
  EXPECT_EQ(moved.root.params[0].second, "a \"b\"");
}

TEST(ResponseBody, DeepNestingIsBounded) {
  std::string raw = "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)";
  for (int i = 0; i < 50; ++i) raw = "(" + raw + " \"mixed\")";
  FetchBodyStructure b;
  EXPECT_EQ(parse_bodystructure(raw, b, 10).code, ResponseErrc::too_deep);
  ASSERT_FALSE(parse_bodystructure(raw, b, 100));
  const FetchBodyPart* p = &b.root;
  int depth = 0;
  while (p->multipart) {
    p = &p->parts.at(0);
    ++depth;
  }
  EXPECT_EQ(depth, 50);
}

TEST(ResponseBody, MalformedBodies) {
  FetchBodyStructure b;
  EXPECT_TRUE(parse_bodystructure("", b));
  EXPECT_TRUE(parse_bodystructure("(", b));
  EXPECT_TRUE(parse_bodystructure("(\"text\" \"plain\" NIL NIL NIL \"7bit\" x 1)", b));
  EXPECT_TRUE(parse_bodystructure("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1)", b));  // text needs lines
  EXPECT_TRUE(parse_bodystructure("((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1))", b));  // no subtype
  EXPECT_FALSE(parse_bodystructure("(\"image\" \"png\" NIL NIL NIL \"base64\" 10)", b));
}

}  // namespace
}  // namespace pimap::imap
