#include "pimap/imap/parse_error.hpp"

namespace pimap::imap {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::syntax: return "syntax";
    case ErrorCode::missing_tag: return "missing_tag";
    case ErrorCode::line_too_long: return "line_too_long";
    case ErrorCode::literal_too_large: return "literal_too_large";
    case ErrorCode::command_too_large: return "command_too_large";
    case ErrorCode::too_many_arguments: return "too_many_arguments";
    case ErrorCode::nesting_too_deep: return "nesting_too_deep";
    case ErrorCode::unexpected_done: return "unexpected_done";
    case ErrorCode::expected_done: return "expected_done";
  }
  return "unknown";
}

bool ParseError::too_big() const {
  return code == ErrorCode::literal_too_large || code == ErrorCode::command_too_large;
}

std::string ParseError::response() const {
  std::string out;
  out.reserve(tag.size() + reason.size() + 24);
  out += tag.empty() ? "*" : tag;
  if (too_big() && refused_sync_literal && !tag.empty()) {
    out += " NO [TOOBIG] ";
  } else if (too_big()) {
    out += " BAD [TOOBIG] ";
  } else {
    out += " BAD ";
  }
  out += reason;
  out += "\r\n";
  return out;
}

}  // namespace pimap::imap
