#include "https_batch.hpp"

#include <pimap/imap/command_parser.hpp>

namespace pimap::edge::https {

Batch analyze_batch(std::string_view body, const imap::ParserLimits& limits, std::size_t max_commands) {
  Batch b;
  auto fail = [&](int status, std::string reason) {
    b.status = status;
    b.reason = std::move(reason);
    b.tags.clear();
    return b;
  };
  if (body.empty()) return fail(400, "Empty batch");
  imap::CommandParser parser(limits);
  parser.feed(body);
  bool waiting_literal = false;  // the last event announced a literal whose data may not follow
  bool last_needs_client = false;
  std::string literal_tag;
  std::size_t command_start = 0;
  for (;;) {
    imap::ParseEvent ev = parser.next();
    const std::size_t consumed = body.size() - parser.buffered();
    if (std::holds_alternative<imap::NeedMore>(ev)) break;
    if (auto* lit = std::get_if<imap::LiteralContinuation>(&ev)) {
      if (last_needs_client) return fail(400, "Command after one that needs a continuation");
      ++b.continuations;
      waiting_literal = true;
      literal_tag = lit->tag;
      continue;
    }
    waiting_literal = false;
    if (auto* err = std::get_if<imap::ParseError>(&ev)) {
      return fail(err->too_big() ? 413 : 400, "Unparseable command: " + err->reason);
    }
    auto* cmd = std::get_if<imap::Command>(&ev);
    if (!cmd) return fail(400, "Unexpected input in batch");
    if (last_needs_client) return fail(400, "Command after one that needs a continuation");
    if (b.tags.size() >= max_commands) {
      return fail(413, "More than " + std::to_string(max_commands) + " commands in one batch");
    }
    b.tags.emplace_back(cmd->tag);
    b.tail_offset = command_start;
    command_start = consumed;
    if (cmd->kind == imap::CommandKind::idle) {
      last_needs_client = true;
      b.tail = Tail::idle;
      ++b.continuations;
    } else if (cmd->kind == imap::CommandKind::authenticate && !cmd->as<imap::Authenticate>()->initial_response) {
      last_needs_client = true;
      b.tail = Tail::sasl;
      ++b.continuations;
    }
  }
  if (!parser.idle()) {
    if (!waiting_literal) return fail(400, "Batch ends inside a command (every command line ends in CRLF)");
    // The body stops right after a literal announcement: the client sends the data in its next POST.
    if (last_needs_client) return fail(400, "Command after one that needs a continuation");
    b.tail = Tail::literal;
    b.tags.push_back(literal_tag);
    b.tail_offset = command_start;
  }
  if (b.tags.empty()) return fail(400, "Empty batch");
  return b;
}

}  // namespace pimap::edge::https
