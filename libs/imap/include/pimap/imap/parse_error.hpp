#pragma once

// What the command parser reports instead of a command. Never thrown: returned as a ParseEvent.

#include <cstdint>
#include <string>
#include <string_view>

namespace pimap::imap {

enum class ErrorCode : std::uint8_t {
  syntax,               // the command does not follow the grammar; `reason` says where
  missing_tag,          // the line does not start with a valid tag (answer with "*")
  line_too_long,        // ParserLimits::max_line_length
  literal_too_large,    // ParserLimits::max_literal_size / max_nonsync_literal_size
  command_too_large,    // ParserLimits::max_command_literal_bytes
  too_many_arguments,   // ParserLimits::max_arguments
  nesting_too_deep,     // ParserLimits::max_nesting_depth
  unexpected_done,      // a bare DONE line while not in IDLE
  expected_done,        // in IDLE, a line other than DONE (RFC 2177: the IDLE ends)
};

std::string_view error_code_name(ErrorCode code);

struct ParseError {
  ErrorCode code = ErrorCode::syntax;
  std::string tag;     // empty when no valid tag could be read
  std::string reason;  // human-readable, one line, safe to put in a response text

  // literal_too_large / command_too_large: RFC 7888 §4 / RFC 4469 [TOOBIG].
  bool too_big() const;
  // The response the edge should send, CRLF included:
  //   "<tag> BAD <reason>", "<tag> NO [TOOBIG] <reason>" for a too-large synchronising literal the client
  //   has not sent yet, "<tag> BAD [TOOBIG] <reason>" otherwise, "* BAD <reason>" without a tag.
  std::string response() const;
  // Set when the error refused a synchronising literal before the client sent it (NO instead of BAD).
  bool refused_sync_literal = false;
  bool operator==(const ParseError&) const = default;
};

}  // namespace pimap::imap
