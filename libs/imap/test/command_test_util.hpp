#pragma once

// Helpers shared by the command parser / serializer tests.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "pimap/imap/command_parser.hpp"
#include "pimap/imap/serializer.hpp"

namespace pimap::imap::testing {

// Parses one complete command, failing the test (and returning an empty Command) on an error.
inline Command parse_ok(std::string_view text, const ParserLimits& limits = {}) {
  auto r = parse_command(text, limits);
  if (auto* e = std::get_if<ParseError>(&r)) {
    ADD_FAILURE() << "parse failed for [" << text << "]: " << error_code_name(e->code) << ": " << e->reason;
    return {};
  }
  return std::get<Command>(std::move(r));
}

inline ParseError parse_err(std::string_view text, const ParserLimits& limits = {}) {
  auto r = parse_command(text, limits);
  if (auto* c = std::get_if<Command>(&r)) {
    ADD_FAILURE() << "expected an error for [" << text << "], got " << serialize(*c);
    return {};
  }
  return std::get<ParseError>(std::move(r));
}

// Feeds `input` in chunks of `chunk` bytes (0 = all at once) and collects every event but NeedMore.
// IDLE commands are acknowledged (expect_idle_done) the way an edge would after sending "+ idling".
inline std::vector<ParseEvent> events_of(CommandParser& p, std::string_view input, std::size_t chunk = 0) {
  std::vector<ParseEvent> out;
  auto drain = [&] {
    for (;;) {
      ParseEvent ev = p.next();
      if (std::holds_alternative<NeedMore>(ev)) return;
      if (auto* c = std::get_if<Command>(&ev); c != nullptr && c->kind == CommandKind::idle) {
        p.expect_idle_done();
      }
      out.push_back(std::move(ev));
    }
  };
  if (chunk == 0) chunk = input.size() == 0 ? 1 : input.size();
  for (std::size_t i = 0; i < input.size(); i += chunk) {
    p.feed(input.substr(i, chunk));
    drain();
  }
  drain();
  return out;
}

inline std::vector<ParseEvent> events_of(std::string_view input, std::size_t chunk = 0,
                                         const ParserLimits& limits = {}) {
  CommandParser p(limits);
  return events_of(p, input, chunk);
}

// A compact, comparable description of an event stream.
inline std::string describe(const ParseEvent& ev) {
  struct V {
    std::string operator()(const NeedMore&) const { return "more"; }
    std::string operator()(const Command& c) const { return "cmd:" + serialize(c); }
    std::string operator()(const LiteralContinuation& l) const {
      return "cont:" + l.tag + ":" + l.command + ":" + std::to_string(l.size) + (l.binary ? ":bin" : "");
    }
    std::string operator()(const IdleDone&) const { return "done"; }
    std::string operator()(const SaslResponse& s) const { return "sasl:" + s.line; }
    std::string operator()(const ParseError& e) const {
      return "err:" + std::string(error_code_name(e.code)) + ":" + e.tag;
    }
  };
  return std::visit(V{}, ev);
}

inline std::vector<std::string> describe(const std::vector<ParseEvent>& evs) {
  std::vector<std::string> out;
  for (const ParseEvent& ev : evs) out.push_back(describe(ev));
  return out;
}

}  // namespace pimap::imap::testing
