#include "https_batch.hpp"
#include "https_output.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace pimap::edge::https;

namespace {
Batch check(std::string_view body, std::size_t max = 100) { return analyze_batch(body, {}, max); }
}  // namespace

TEST(HttpsBatch, CompleteCommandsInOrder) {
  const Batch b = check("a1 LOGIN \"u#Pd\" pw\r\na2 SELECT INBOX\r\na3 NOOP\r\n");
  ASSERT_EQ(b.status, 0) << b.reason;
  EXPECT_EQ(b.tags, (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(b.tail, Tail::complete);
  EXPECT_EQ(b.continuations, 0u);
}

TEST(HttpsBatch, InlineSynchronisingLiteralCountsItsContinuation) {
  const Batch b = check("a1 LOGIN {3}\r\nabc pw\r\na2 NOOP\r\n");
  ASSERT_EQ(b.status, 0) << b.reason;
  EXPECT_EQ(b.tags.size(), 2u);
  EXPECT_EQ(b.tail, Tail::complete);
  EXPECT_EQ(b.continuations, 1u);
}

TEST(HttpsBatch, IdleLastIsLongLived) {
  const Batch b = check("a1 NOOP\r\na2 IDLE\r\n");
  ASSERT_EQ(b.status, 0);
  EXPECT_EQ(b.tail, Tail::idle);
  EXPECT_EQ(b.tags.back(), "a2");
  EXPECT_EQ(b.continuations, 1u);
}

TEST(HttpsBatch, CommandAfterIdleOrAuthenticateIs400) {
  EXPECT_EQ(check("a1 IDLE\r\nDONE\r\n").status, 400);
  EXPECT_EQ(check("a1 IDLE\r\na2 NOOP\r\n").status, 400);
  EXPECT_EQ(check("a1 AUTHENTICATE PLAIN\r\na2 NOOP\r\n").status, 400);
}

TEST(HttpsBatch, AuthenticateWithoutInitialResponseWaitsForSasl) {
  const Batch b = check("a1 AUTHENTICATE PLAIN\r\n");
  ASSERT_EQ(b.status, 0);
  EXPECT_EQ(b.tail, Tail::sasl);
  EXPECT_EQ(check("a1 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n").tail, Tail::complete);
}

TEST(HttpsBatch, BodyEndingAfterLiteralAnnouncementWaitsForData) {
  const std::string body = "a1 NOOP\r\na2 APPEND INBOX {5}\r\n";
  const Batch b = check(body);
  ASSERT_EQ(b.status, 0) << b.reason;
  EXPECT_EQ(b.tail, Tail::literal);
  EXPECT_EQ(b.tags, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(body.substr(b.tail_offset), "a2 APPEND INBOX {5}\r\n");
}

TEST(HttpsBatch, UnparseableOrUnterminatedIs400) {
  EXPECT_EQ(check("").status, 400);
  EXPECT_EQ(check("a1 NOOP").status, 400);       // no CRLF
  EXPECT_EQ(check("a1 SELECT\r\n").status, 400);  // SELECT needs a mailbox
  EXPECT_EQ(check("a1 NOOP\r\n* BAD\r\n").status, 400);
}

TEST(HttpsBatch, TooManyCommandsIs413) {
  std::string body;
  for (int i = 0; i < 4; ++i) body += "t" + std::to_string(i) + " NOOP\r\n";
  EXPECT_EQ(check(body, 4).status, 0);
  EXPECT_EQ(check(body, 3).status, 413);
}

TEST(HttpsOutput, FramesResponsesAcrossWritesAndSkipsLiteralData) {
  OutputScanner s;
  std::vector<std::string> got;
  std::vector<Response::Kind> kinds;
  auto sink = [&](const Response& r) {
    got.emplace_back(r.bytes);
    kinds.push_back(r.kind);
  };
  s.feed("* 1 FETCH (BODY[] {9}\r\na1 OK x\r\n", sink);  // literal looks like a completion
  EXPECT_TRUE(got.empty());
  s.feed(")\r\n+ Ready\r\na1 O", sink);
  s.feed("K done\r\n", sink);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "* 1 FETCH (BODY[] {9}\r\na1 OK x\r\n)\r\n");
  EXPECT_EQ(kinds[0], Response::Kind::untagged);
  EXPECT_EQ(kinds[1], Response::Kind::continuation);
  EXPECT_EQ(kinds[2], Response::Kind::tagged);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(HttpsOutput, TaggedResponseCarriesItsTag) {
  OutputScanner s;
  std::string tag;
  s.feed("x7 NO [CANNOT] nope\r\n", [&](const Response& r) { tag = std::string(r.tag); });
  EXPECT_EQ(tag, "x7");
  EXPECT_EQ(trailing_literal("* XZIP ~{12}"), 12);
  EXPECT_EQ(trailing_literal("* 1 FETCH (X {3+}"), 3);
  EXPECT_EQ(trailing_literal("* OK {x}"), -1);
}
