#pragma once

// Why a server response could not be parsed, and how much may be held while parsing it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pimap::imap {

// Bounds on what one server can make the response reader hold. Exceeding one turns that response into
// a ResponseError; the reader skips the rest of the response (it still honours literal lengths, so it
// stays in step with the stream) and continues with the next one.
struct ResponseLimits {
  // Text of one line, i.e. between two literals or a literal and CRLF. Long SEARCH / VANISHED results
  // are the biggest lines Dovecot sends (about 8 bytes per uid).
  std::size_t max_line_bytes = 8 * 1024 * 1024;
  // One literal payload ({n} / ~{n}).
  std::uint64_t max_literal_bytes = 256ull * 1024 * 1024;
  // One whole response: text plus every literal in it. The reader must hold a response in one piece.
  std::uint64_t max_response_bytes = 300ull * 1024 * 1024;
  // Nested parentheses (BODYSTRUCTURE of nested message/rfc822 parts is the deepest real case; Dovecot
  // caps MIME nesting at 100 parts, i.e. about 200 levels).
  std::size_t max_depth = 256;
};

enum class ResponseErrc : std::uint8_t {
  ok = 0,
  line_too_long,        // max_line_bytes exceeded
  literal_too_large,    // max_literal_bytes exceeded
  response_too_large,   // max_response_bytes exceeded
  too_deep,             // max_depth exceeded
  bad_literal,          // `{...}` header that is not a valid literal length
  empty_line,           // a bare CRLF
  bad_start,            // neither `*`, `+` nor a tag
  syntax,               // anything else the grammar does not allow
  unexpected_end,       // the response ends in the middle of a production
  number_overflow,      // number does not fit its type
  out_of_memory,        // an allocation failed
};

std::string_view to_string(ResponseErrc e) noexcept;

struct ResponseError {
  ResponseErrc code = ResponseErrc::ok;
  // Byte offset of the problem from the start of the response.
  std::size_t offset = 0;
  // What was expected, e.g. "number", "')' closing FLAGS"; static text, never response content.
  std::string_view expected;

  explicit operator bool() const noexcept { return code != ResponseErrc::ok; }
  // e.g. "syntax error at byte 17: expected number"
  std::string message() const;
};

}  // namespace pimap::imap
