// libFuzzer target for the IMAP command parser and serializer.
//
// Input layout: byte 0 chooses how the rest is split into feed() calls and a few edge-side reactions
// (rejecting literals, entering AUTHENTICATE mode); byte 1 chooses default or tiny limits, so limit and
// resynchronisation paths are reached quickly. Oracles, besides ASan/UBSan:
//   * chunked feeding yields exactly the events of whole-input feeding;
//   * every parsed command round-trips: parse(serialize(cmd)) == cmd, and serialisation is canonical;
//   * every error renders as a single CRLF-terminated response line.
//
//   build/fuzz/fuzz/command_fuzz -max_total_time=600 fuzz/seeds/command   (see docs/imap-library.md)

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "pimap/imap/command_parser.hpp"
#include "pimap/imap/serializer.hpp"

using namespace pimap::imap;

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "command_fuzz: %s\n%.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

ParserLimits limits_for(std::uint8_t selector) {
  ParserLimits l;
  if ((selector & 1) != 0) {
    l.max_line_length = 200;
    l.max_literal_size = 300;
    l.max_command_literal_bytes = 400;
    l.max_nonsync_literal_size = 100;
    l.max_nesting_depth = 6;
    l.max_arguments = 40;
  }
  return l;
}

// Round trip against generous limits: the canonical form may be longer than the input (escapes).
void check_round_trip(const Command& cmd) {
  ParserLimits relaxed;
  relaxed.max_line_length = 16 * 1024 * 1024;
  relaxed.max_arguments = 1u << 20;
  relaxed.max_nesting_depth = 64;
  for (const SerializeOptions& o : {SerializeOptions{}, SerializeOptions{true, false, 1024},
                                    SerializeOptions{false, true, 3}}) {
    const std::string out = serialize(cmd, o);
    auto again = parse_command(out, relaxed);
    const Command* c2 = std::get_if<Command>(&again);
    if (c2 == nullptr) fail("serialized command does not parse", out + "\n" + std::get<ParseError>(again).reason);
    if (!(*c2 == cmd)) fail("round trip changed the command", std::string(cmd.raw) + "\n---\n" + out);
    if (serialize(*c2, o) != out) fail("serialization is not canonical", out);
  }
}

std::string summary(const ParseEvent& ev) {
  if (const auto* c = std::get_if<Command>(&ev)) {
    if (c->raw.empty() || c->raw.back() != '\n') fail("command raw does not end a line", c->raw);
    return "C" + std::string(c->raw);
  }
  if (const auto* e = std::get_if<ParseError>(&ev)) {
    const std::string r = e->response();
    if (r.size() < 3 || r.find_first_of("\r\n") != r.size() - 2) fail("bad error response", r);
    return "E" + std::string(error_code_name(e->code)) + ":" + e->tag;
  }
  if (const auto* l = std::get_if<LiteralContinuation>(&ev)) return "L" + l->tag + ":" + std::to_string(l->size);
  if (std::holds_alternative<IdleDone>(ev)) return "D";
  if (const auto* s = std::get_if<SaslResponse>(&ev)) return "S" + s->line;
  return "?";
}

// Runs the parser over `input` fed in pieces of `chunk` bytes (0 = whole), reacting like an edge.
std::vector<std::string> run(std::string_view input, std::size_t chunk, std::uint8_t policy,
                             const ParserLimits& limits, bool check) {
  CommandParser p(limits);
  std::vector<std::string> events;
  auto drain = [&] {
    for (;;) {
      ParseEvent ev = p.next();
      if (std::holds_alternative<NeedMore>(ev)) return;
      const std::size_t index = events.size();
      events.push_back(summary(ev));
      if (const auto* c = std::get_if<Command>(&ev)) {
        if (check) check_round_trip(*c);
        if (c->kind == CommandKind::idle) p.expect_idle_done();
        if (c->kind == CommandKind::authenticate && (policy & 0x40) != 0) p.expect_sasl_response();
      } else if (std::holds_alternative<LiteralContinuation>(ev)) {
        if ((policy & 0x80) != 0 && index % 3 == 2) {
          if (!p.reject_literal()) fail("reject_literal refused right after a continuation", "");
          events.push_back("R");
        }
      }
    }
  };
  if (chunk == 0) chunk = input.empty() ? 1 : input.size();
  for (std::size_t i = 0; i < input.size(); i += chunk) {
    p.feed(input.substr(i, chunk));
    drain();
  }
  drain();
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t policy = data[0];
  const ParserLimits limits = limits_for(data[1]);
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::vector<std::string> whole = run(input, 0, policy, limits, true);
  const std::size_t chunk = 1 + (policy & 0x0f);
  const std::vector<std::string> split = run(input, chunk, policy, limits, false);
  if (whole != split) {
    std::string detail;
    for (std::size_t i = 0; i < std::max(whole.size(), split.size()); ++i) {
      detail += (i < whole.size() ? whole[i] : "<none>") + "  |  " + (i < split.size() ? split[i] : "<none>") + "\n";
    }
    fail("chunked feeding changed the events", detail);
  }
  return 0;
}
