// Incremental framing: any split of the input gives the same events as feeding it whole; continuation
// requests, IDLE/DONE and AUTHENTICATE lines as distinct events; pipelining.

#include <gtest/gtest.h>

#include <cstring>

#include "command_test_util.hpp"

namespace pimap::imap {
namespace {

using testing::describe;
using testing::events_of;

// Holds a NUL (in the binary literal), so its length comes from sizeof.
constexpr char kStreamBytes[] =
    "a1 LOGIN {4}\r\nfred {6+}\r\nsec\r\nt\r\n"
    "a2 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211))\r\n"
    "a3 UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (From Subject \"X-Y\")]) (CHANGEDSINCE 5)\r\n"
    "a4 APPEND Drafts (\\Draft) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhe\"lo ~{3}\r\nx\0y\r\n"
    "a5 IDLE\r\nDONE\r\n"
    "a6 XZIP b6 UID STORE 4 +FLAGS.SILENT (\\Seen)\r\n"
    "\r\n"
    "a7 SEARCH CHARSET UTF-8 SUBJECT {2+}\r\n\xc3\xa4\r\n"
    "a8 LOGOUT\r\n";
const std::string kStream(kStreamBytes, sizeof kStreamBytes - 1);

const std::string& stream() { return kStream; }

TEST(CommandIncremental, WholeStreamEvents) {
  const std::vector<std::string> got = describe(events_of(kStream));
  ASSERT_EQ(got.size(), 12u) << ::testing::PrintToString(got);
  EXPECT_EQ(got[0], "cont:a1:LOGIN:4");
  EXPECT_EQ(got[1].rfind("cmd:a1 LOGIN fred {6}", 0), 0u) << got[1];
  EXPECT_EQ(got[2].rfind("cmd:a2 SELECT INBOX (QRESYNC", 0), 0u);
  EXPECT_EQ(got[3].rfind("cmd:a3 UID FETCH", 0), 0u);
  EXPECT_EQ(got[4], "cont:a4:APPEND:5");
  EXPECT_EQ(got[5], "cont:a4:APPEND:3:bin");
  EXPECT_EQ(got[6].rfind("cmd:a4 APPEND Drafts", 0), 0u);
  EXPECT_EQ(got[7], "cmd:a5 IDLE\r\n");
  EXPECT_EQ(got[8], "done");
  EXPECT_EQ(got[9].rfind("cmd:a6 XZIP b6 UID STORE", 0), 0u);
  EXPECT_EQ(got[10].rfind("cmd:a7 SEARCH CHARSET UTF-8 SUBJECT {2}", 0), 0u);
  EXPECT_EQ(got[11], "cmd:a8 LOGOUT\r\n");
}

TEST(CommandIncremental, EverySplitPointGivesTheSameEvents) {
  const std::string input = stream();
  const std::vector<std::string> whole = describe(events_of(input));
  for (std::size_t split = 1; split < input.size(); ++split) {
    CommandParser p;
    std::vector<ParseEvent> evs = events_of(p, input.substr(0, split));
    std::vector<ParseEvent> rest = events_of(p, input.substr(split));
    for (auto& e : rest) evs.push_back(std::move(e));
    ASSERT_EQ(describe(evs), whole) << "split at " << split;
  }
}

TEST(CommandIncremental, OneByteAtATimeAndOddChunks) {
  const std::string input = stream();
  const std::vector<std::string> whole = describe(events_of(input));
  for (std::size_t chunk : {1u, 2u, 3u, 7u, 13u, 64u}) {
    EXPECT_EQ(describe(events_of(input, chunk)), whole) << "chunk " << chunk;
  }
}

TEST(CommandIncremental, RawBytesAreExactWhateverTheSplit) {
  const std::string text = "a4 APPEND Drafts {5}\r\nhello (\\Seen) {2+}\r\nab\r\n";
  CommandParser p;
  std::vector<ParseEvent> evs = events_of(p, text, 1);
  ASSERT_EQ(evs.size(), 2u);
  const Command& c = std::get<Command>(evs[1]);
  EXPECT_EQ(c.raw, text);
  EXPECT_EQ(c.as<Append>()->messages[1].data, "ab");
}

TEST(CommandIncremental, ContinuationOnlyForSynchronisingLiterals) {
  CommandParser p;
  p.feed("a APPEND INBOX {3+}\r\nabc");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(p.next()));
  p.feed(" {2}\r\n");
  ParseEvent ev = p.next();
  ASSERT_TRUE(std::holds_alternative<LiteralContinuation>(ev)) << describe(ev);
  EXPECT_EQ(std::get<LiteralContinuation>(ev).size, 2u);
  EXPECT_EQ(std::get<LiteralContinuation>(ev).tag, "a");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(p.next()));
  EXPECT_FALSE(p.idle());
  p.feed("xy\r\n");
  ev = p.next();
  ASSERT_TRUE(std::holds_alternative<Command>(ev));
  EXPECT_EQ(std::get<Command>(ev).as<Append>()->messages.size(), 2u);
  EXPECT_TRUE(p.idle());
}

TEST(CommandIncremental, ZeroLengthSynchronisingLiteralStillAsksForContinuation) {
  CommandParser p;
  p.feed("a LOGIN {0}\r\n");
  ParseEvent ev = p.next();
  ASSERT_TRUE(std::holds_alternative<LiteralContinuation>(ev));
  EXPECT_EQ(std::get<LiteralContinuation>(ev).size, 0u);
  p.feed(" pw\r\n");
  ev = p.next();
  ASSERT_TRUE(std::holds_alternative<Command>(ev));
  EXPECT_EQ(std::get<Command>(ev).as<Login>()->user, "");
}

TEST(CommandIncremental, RejectLiteralDropsTheCommand) {
  CommandParser p;
  p.feed("a APPEND Forbidden {10}\r\n");
  ASSERT_TRUE(std::holds_alternative<LiteralContinuation>(p.next()));
  EXPECT_TRUE(p.reject_literal());
  EXPECT_FALSE(p.reject_literal());
  EXPECT_TRUE(p.idle());
  p.feed("b NOOP\r\n");
  ParseEvent ev = p.next();
  ASSERT_TRUE(std::holds_alternative<Command>(ev));
  EXPECT_EQ(std::get<Command>(ev).tag, "b");
}

TEST(CommandIncremental, IdleDoneIsADistinctEvent) {
  CommandParser p;
  p.feed("a IDLE\r\n");
  ASSERT_EQ(std::get<Command>(p.next()).kind, CommandKind::idle);
  EXPECT_TRUE(std::holds_alternative<NeedMore>(p.next()));
  ASSERT_TRUE(p.expect_idle_done());
  p.feed("do");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(p.next()));
  p.feed("ne\r\nb NOOP\r\n");
  EXPECT_TRUE(std::holds_alternative<IdleDone>(p.next()));
  EXPECT_EQ(std::get<Command>(p.next()).kind, CommandKind::noop);
}

TEST(CommandIncremental, SomethingElseThanDoneEndsIdleWithAnError) {
  CommandParser p;
  ASSERT_TRUE(p.expect_idle_done());
  p.feed("b NOOP\r\nc NOOP\r\n");
  ParseEvent ev = p.next();
  ASSERT_TRUE(std::holds_alternative<ParseError>(ev));
  EXPECT_EQ(std::get<ParseError>(ev).code, ErrorCode::expected_done);
  EXPECT_EQ(std::get<ParseError>(ev).response(), "* BAD expected DONE to end IDLE\r\n");
  EXPECT_EQ(std::get<Command>(p.next()).tag, "c");  // back in command mode
}

TEST(CommandIncremental, ModeCannotChangeInTheMiddleOfACommand) {
  CommandParser p;
  p.feed("a LOG");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(p.next()));
  EXPECT_FALSE(p.expect_idle_done());
  EXPECT_FALSE(p.expect_sasl_response());
}

TEST(CommandIncremental, SaslExchange) {
  // RFC 9051 §6.2.2 style: AUTHENTICATE, challenge, client line, challenge, cancel.
  CommandParser p;
  p.feed("a AUTHENTICATE PLAIN\r\nAGZyZWQAc2VjcmV0\r\nb AUTHENTICATE PLAIN\r\n*\r\n");
  ASSERT_EQ(std::get<Command>(p.next()).kind, CommandKind::authenticate);
  ASSERT_TRUE(p.expect_sasl_response());
  ParseEvent ev = p.next();
  ASSERT_TRUE(std::holds_alternative<SaslResponse>(ev));
  EXPECT_EQ(std::get<SaslResponse>(ev).line, "AGZyZWQAc2VjcmV0");
  EXPECT_FALSE(std::get<SaslResponse>(ev).cancelled());
  ASSERT_EQ(std::get<Command>(p.next()).tag, "b");
  ASSERT_TRUE(p.expect_sasl_response());
  EXPECT_TRUE(std::get<SaslResponse>(p.next()).cancelled());
}

TEST(CommandIncremental, FeedAcceptsBytes) {
  CommandParser p;
  const std::string text = "a NOOP\r\n";
  std::vector<std::byte> bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  p.feed(std::span<const std::byte>(bytes));
  EXPECT_EQ(std::get<Command>(p.next()).kind, CommandKind::noop);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(CommandIncremental, NextConsumesOnlyOneEvent) {
  CommandParser p;
  p.feed("a NOOP\r\nb NOOP\r\n");
  ASSERT_TRUE(std::holds_alternative<Command>(p.next()));
  EXPECT_EQ(p.buffered(), 8u);
}

}  // namespace
}  // namespace pimap::imap
