// Malformed input and limits: each yields a precise ParseError (code, tag, response) and the parser
// carries on with the next command.

#include <gtest/gtest.h>

#include "command_test_util.hpp"

namespace pimap::imap {
namespace {

using testing::describe;
using testing::events_of;

struct Malformed {
  std::string input;
  ErrorCode code;
  std::string tag;
};

// After each bad input comes "z NOOP": it must parse, proving the parser resynchronised.
void expect_error_then_noop(const Malformed& m, const ParserLimits& limits = {}) {
  const std::string input = m.input + "z NOOP\r\n";
  for (std::size_t chunk : {0u, 1u, 5u}) {
    std::vector<ParseEvent> evs = events_of(input, chunk, limits);
    std::vector<ParseEvent> errors_and_cmds;
    for (auto& e : evs) {
      if (!std::holds_alternative<LiteralContinuation>(e)) errors_and_cmds.push_back(std::move(e));
    }
    ASSERT_EQ(errors_and_cmds.size(), 2u) << m.input << "\n" << ::testing::PrintToString(describe(evs));
    const auto* err = std::get_if<ParseError>(&errors_and_cmds[0]);
    ASSERT_NE(err, nullptr) << m.input << " gave " << describe(errors_and_cmds[0]);
    EXPECT_EQ(err->code, m.code) << m.input << ": " << err->reason;
    EXPECT_EQ(err->tag, m.tag) << m.input;
    EXPECT_FALSE(err->reason.empty());
    EXPECT_EQ(err->reason.find_first_of("\r\n"), std::string::npos);
    const auto* noop = std::get_if<Command>(&errors_and_cmds[1]);
    ASSERT_NE(noop, nullptr) << m.input;
    EXPECT_EQ(noop->tag, "z");
    EXPECT_EQ(noop->kind, CommandKind::noop);
  }
}

TEST(CommandMalformed, SyntaxErrorsNameTheTagAndResync) {
  const ErrorCode S = ErrorCode::syntax;
  const std::vector<Malformed> cases = {
      {"a1 FETCH 0 FLAGS\r\n", S, "a1"},                       // 0 is not a sequence number
      {"a1 FETCH 1:0 FLAGS\r\n", S, "a1"},
      {"a1 FETCH 01 FLAGS\r\n", S, "a1"},                      // leading zero
      {"a1 FETCH 4294967296 FLAGS\r\n", S, "a1"},              // > 32 bits
      {"a1 FETCH 1 (FLAGS\r\n", S, "a1"},                      // unbalanced
      {"a1 FETCH 1 (BODY[HEADER.FIELDS])\r\n", S, "a1"},       // missing header list
      {"a1 FETCH 1 BODY.PEEK\r\n", S, "a1"},
      {"a1 FETCH 1 (FLAGS) (VANISHED)\r\n", S, "a1"},          // VANISHED without UID
      {"a1 UID FETCH 1 (FLAGS) (VANISHED)\r\n", S, "a1"},      // ... or without CHANGEDSINCE
      {"a1 FETCH 1 FAST FLAGS\r\n", S, "a1"},
      {"a1 LOGIN \"unterminated\r\n", S, "a1"},
      {"a1 LOGIN \"bad\\escape\" x\r\n", S, "a1"},
      {"a1 SELECT\r\n", S, "a1"},
      {"a1  NOOP\r\n", S, "a1"},                               // two spaces
      {"a1 NOOP extra\r\n", S, "a1"},
      {"a1 NOOP \r\n", S, "a1"},                               // trailing space
      {"a1\r\n", S, "a1"},                                     // no command
      {"a1 SEARCH BOGUS\r\n", S, "a1"},
      {"a1 SEARCH SINCE 32-Jan-2020\r\n", S, "a1"},
      {"a1 SEARCH SINCE 1-Foo-2020\r\n", S, "a1"},
      {"a1 SEARCH OR SEEN\r\n", S, "a1"},
      {"a1 STORE 1 FLAGZ (\\Seen)\r\n", S, "a1"},
      {"a1 UID SELECT INBOX\r\n", S, "a1"},
      {"a1 SELECT INBOX (BOGUS)\r\n", S, "a1"},
      {"a1 SELECT INBOX (QRESYNC (0 1))\r\n", S, "a1"},
      {"a1 STATUS INBOX ()\r\n", S, "a1"},
      {"a1 ENABLE\r\n", S, "a1"},
      {"a1 XFILTER INBOX B GET\r\n", S, "a1"},
      {"a1 XFILTER INBOX Q ALL\r\n", S, "a1"},
      {"a1 XCONVERT 1 2 AS textplain\r\n", S, "a1"},
      {"a1 XMACRO FOO\r\n", S, "a1"},
      {"a1 AUTHENTICATE PLAIN abc\r\n", S, "a1"},              // not base64
      {"a1 LOGIN {3}x\r\n", S, "a1"},                          // literal not at end of line
      {"a1 LOGIN {}\r\n", S, "a1"},
      {std::string("a1 LOGIN a\0b c\r\n", 16), S, "a1"},       // NUL in an atom
      {"a1 LOGIN a\rb c\r\n", S, "a1"},                        // bare CR
      {"a1 APPEND INBOX (\\Seen) \"31-Feb-2020 25:00:00 +0000\" {3+}\r\nabc\r\n", S, "a1"},
      {"a1 XDELIVER R INBOX 5 Q {3+}\r\nabc\r\n", S, "a1"},
      {"a1 LOGIN {3+}\r\nabc BOGUS EXTRA\r\n", S, "a1"},       // error after a literal
      {"a1 APPEND INBOX {3}\r\nabc junk\r\n", S, "a1"},        // error after a sync literal
      {"a1 APPEND INBOX\r\n", S, "a1"},
      {"a1 UID EXPUNGE\r\n", S, "a1"},
      {"+a NOOP\r\n", ErrorCode::missing_tag, ""},              // '+' is not a tag character
      {" NOOP\r\n", ErrorCode::missing_tag, ""},
      {"(x) NOOP\r\n", ErrorCode::missing_tag, ""},
      {"DONE\r\n", ErrorCode::unexpected_done, ""},
  };
  EXPECT_GE(cases.size(), 20u);
  for (const Malformed& m : cases) expect_error_then_noop(m);
}

TEST(CommandMalformed, ErrorResponses) {
  const ParseError e = testing::parse_err("a1 SEARCH BOGUS\r\n");
  EXPECT_EQ(e.response(), "a1 BAD unknown search key 'BOGUS'\r\n");
  const ParseError untagged = testing::parse_err(" NOOP\r\n");
  EXPECT_EQ(untagged.response(), "* BAD missing or invalid tag\r\n");
  EXPECT_EQ(testing::parse_err("a1 FETCH 0 FLAGS\r\n").reason, "0 is not a valid sequence number or UID");
}

TEST(CommandLimits, LineTooLongIsReportedAtOnceAndSkipped) {
  ParserLimits limits;
  limits.max_line_length = 100;
  expect_error_then_noop({"t1 LOGIN " + std::string(200, 'x') + " y\r\n", ErrorCode::line_too_long, "t1"},
                         limits);
  // Reported before the line ends, so a client streaming garbage gets its answer early.
  CommandParser p(limits);
  p.feed("t2 NOOP " + std::string(150, 'x'));
  ParseEvent ev = p.next();
  ASSERT_TRUE(std::holds_alternative<ParseError>(ev));
  EXPECT_EQ(std::get<ParseError>(ev).response(), "t2 BAD command line longer than 100 bytes\r\n");
  p.feed(std::string(100000, 'y'));
  EXPECT_TRUE(std::holds_alternative<NeedMore>(p.next()));
  EXPECT_EQ(p.buffered(), 0u);  // skipped, not buffered
}

TEST(CommandLimits, LineLimitCountsAllLinesOfACommandButNotLiterals) {
  ParserLimits limits;
  limits.max_line_length = 60;
  // 3 lines of ~25 bytes each: the sum exceeds 60.
  expect_error_then_noop({"t3 LOGIN {5+}\r\naaaaa {5+}\r\nbbbbb XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n",
                          ErrorCode::line_too_long, "t3"},
                         limits);
  // A big literal alone is fine.
  const std::string big(1000, 'm');
  EXPECT_EQ(testing::parse_ok("t4 APPEND INBOX {1000+}\r\n" + big + "\r\n", limits).as<Append>()->messages[0].data,
            big);
}

TEST(CommandLimits, TooLongLineEndingInANonSyncLiteralSkipsTheLiteral) {
  ParserLimits limits;
  limits.max_line_length = 50;
  // The literal's payload looks like a command: it must be skipped, not parsed.
  expect_error_then_noop(
      {"t5 APPEND " + std::string(80, 'q') + " {13+}\r\nx BAD COMMAND\r\n", ErrorCode::line_too_long, "t5"},
      limits);
  // ... and a further non-sync literal of the same discarded command, too.
  expect_error_then_noop({"t6 X " + std::string(80, 'q') + " {3+}\r\nabc {10+}\r\ny NOOP\r\n12\r\n",
                          ErrorCode::line_too_long, "t6"},
                         limits);
}

TEST(CommandLimits, TooLargeSynchronisingLiteralIsRefusedBeforeItIsSent) {
  ParserLimits limits;
  limits.max_literal_size = 1000;
  CommandParser p(limits);
  p.feed("t7 APPEND INBOX {1001}\r\n");
  ParseEvent ev = p.next();
  ASSERT_TRUE(std::holds_alternative<ParseError>(ev)) << describe(ev);
  const ParseError& e = std::get<ParseError>(ev);
  EXPECT_EQ(e.code, ErrorCode::literal_too_large);
  EXPECT_TRUE(e.too_big());
  EXPECT_TRUE(e.refused_sync_literal);
  EXPECT_EQ(e.response(), "t7 NO [TOOBIG] literal of 1001 bytes exceeds the limit of 1000\r\n");
  EXPECT_TRUE(p.idle());  // the client will not send the literal: next line is a new command
  p.feed("z NOOP\r\n");
  EXPECT_EQ(std::get<Command>(p.next()).tag, "z");
}

TEST(CommandLimits, TooLargeNonSyncLiteralIsSkipped) {
  ParserLimits limits;
  limits.max_literal_size = 1000;
  expect_error_then_noop(
      {"t8 APPEND INBOX {2000+}\r\n" + std::string(2000, 'd') + "\r\n", ErrorCode::literal_too_large, "t8"},
      limits);
  const ParseError e = testing::parse_err("t8 APPEND INBOX {2000+}\r\n" + std::string(2000, 'd') + "\r\n", limits);
  EXPECT_EQ(e.response().rfind("t8 BAD [TOOBIG] ", 0), 0u);
  // Absurd sizes do not overflow.
  EXPECT_EQ(testing::parse_err("t9 LOGIN {99999999999999999999999999}\r\n").code, ErrorCode::literal_too_large);
}

TEST(CommandLimits, LiteralMinusLimit) {
  ParserLimits limits;
  limits.max_nonsync_literal_size = 4096;  // RFC 7888 LITERAL-
  expect_error_then_noop(
      {"t10 APPEND INBOX {5000+}\r\n" + std::string(5000, 'e') + "\r\n", ErrorCode::literal_too_large, "t10"},
      limits);
  // A synchronising literal of that size is fine.
  auto evs = events_of("t11 APPEND INBOX {5000}\r\n" + std::string(5000, 'e') + "\r\n", 0, limits);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<Command>(evs[1]));
}

TEST(CommandLimits, TotalLiteralBytesPerCommand) {
  ParserLimits limits;
  limits.max_command_literal_bytes = 100;
  expect_error_then_noop({"t12 APPEND INBOX {60+}\r\n" + std::string(60, 'a') + " {60+}\r\n" +
                              std::string(60, 'b') + "\r\n",
                          ErrorCode::command_too_large, "t12"},
                         limits);
}

TEST(CommandLimits, NestingDepth) {
  ParserLimits limits;
  limits.max_nesting_depth = 10;
  std::string nots;
  for (int i = 0; i < 20; ++i) nots += "NOT ";
  expect_error_then_noop({"t13 SEARCH " + nots + "ALL\r\n", ErrorCode::nesting_too_deep, "t13"}, limits);
  expect_error_then_noop(
      {"t14 XFOO " + std::string(20, '(') + std::string(20, ')') + "\r\n", ErrorCode::nesting_too_deep, "t14"},
      limits);
  std::string zips;
  for (int i = 0; i < 20; ++i) zips += "z" + std::to_string(i) + " XZIP ";
  expect_error_then_noop({"t15 XZIP " + zips + "i NOOP\r\n", ErrorCode::nesting_too_deep, "t15"}, limits);
  // Within the limit, nesting works.
  EXPECT_EQ(testing::parse_ok("t16 SEARCH NOT NOT (NOT (ALL))\r\n", limits).kind, CommandKind::search);
}

TEST(CommandLimits, DefaultDepthStopsAHostileSearchWithinTheLineLimit) {
  std::string nots;
  for (int i = 0; i < 10000; ++i) nots += "NOT ";
  expect_error_then_noop({"t17 SEARCH " + nots + "ALL\r\n", ErrorCode::nesting_too_deep, "t17"});
}

TEST(CommandLimits, ArgumentCount) {
  ParserLimits limits;
  limits.max_arguments = 50;
  std::string flags;
  for (int i = 0; i < 60; ++i) flags += " f" + std::to_string(i);
  expect_error_then_noop({"t18 STORE 1 +FLAGS" + flags + "\r\n", ErrorCode::too_many_arguments, "t18"}, limits);
  std::string set = "1";
  for (int i = 2; i < 60; ++i) set += "," + std::to_string(i);
  expect_error_then_noop({"t19 FETCH " + set + " FLAGS\r\n", ErrorCode::too_many_arguments, "t19"}, limits);
}

TEST(CommandLimits, LineTooLongWhileIdling) {
  ParserLimits limits;
  limits.max_line_length = 20;
  CommandParser p(limits);
  ASSERT_TRUE(p.expect_idle_done());
  p.feed(std::string(30, 'D') + " {5+}\r\nz NOOP\r\n");
  ParseEvent ev = p.next();
  ASSERT_TRUE(std::holds_alternative<ParseError>(ev));
  EXPECT_EQ(std::get<ParseError>(ev).code, ErrorCode::line_too_long);
  EXPECT_EQ(std::get<ParseError>(ev).tag, "");
  // No literal handling outside command mode: the next line is a command again.
  EXPECT_EQ(std::get<Command>(p.next()).tag, "z");
}

TEST(CommandLimits, EmptyLinesAreIgnored) {
  auto evs = events_of("\r\n\n\r\nz NOOP\r\n");
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(std::get<Command>(evs[0]).tag, "z");
}

TEST(CommandLimits, IncompleteInputIsNotAnError) {
  CommandParser p;
  p.feed("a LOGIN {5}\r\nab");
  EXPECT_TRUE(std::holds_alternative<LiteralContinuation>(p.next()));
  EXPECT_TRUE(std::holds_alternative<NeedMore>(p.next()));
  EXPECT_EQ(testing::parse_err("a NOOP").reason, "incomplete command");
}

}  // namespace
}  // namespace pimap::imap
