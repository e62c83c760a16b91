#include "pimap/imap/response_error.hpp"

namespace pimap::imap {

std::string_view to_string(ResponseErrc e) noexcept {
  switch (e) {
    case ResponseErrc::ok: return "ok";
    case ResponseErrc::line_too_long: return "line exceeds max_line_bytes";
    case ResponseErrc::literal_too_large: return "literal exceeds max_literal_bytes";
    case ResponseErrc::response_too_large: return "response exceeds max_response_bytes";
    case ResponseErrc::too_deep: return "nesting exceeds max_depth";
    case ResponseErrc::bad_literal: return "bad literal length";
    case ResponseErrc::empty_line: return "empty line";
    case ResponseErrc::bad_start: return "response starts with neither '*', '+' nor a tag";
    case ResponseErrc::syntax: return "syntax error";
    case ResponseErrc::unexpected_end: return "response ends early";
    case ResponseErrc::number_overflow: return "number too large";
    case ResponseErrc::out_of_memory: return "out of memory";
  }
  return "unknown error";
}

std::string ResponseError::message() const {
  std::string m(to_string(code));
  m += " at byte ";
  m += std::to_string(offset);
  if (!expected.empty()) {
    m += ": expected ";
    m += expected;
  }
  return m;
}

}  // namespace pimap::imap
