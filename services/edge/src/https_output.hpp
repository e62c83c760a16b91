#pragma once
// Frames what the IMAP state machine writes into complete responses, so the HTTPS binding can tell
// when a batch is answered (every tag has its tagged completion), drop the "+" continuation requests
// the client never waits for, and send one chunk per response in persistent chunked mode.
//
// A response is one line, or a line ending in a literal announcement ({n}, {n+}, ~{n}) followed by
// the literal's bytes and the rest of the response; literal bytes are never inspected, so message
// data that looks like "a1 OK" cannot complete a batch. Holds only an unfinished response.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace pimap::edge::https {

struct Response {
  enum class Kind : unsigned char { untagged, continuation, tagged };
  Kind kind = Kind::untagged;
  std::string_view tag;    // tagged only
  std::string_view bytes;  // the whole response, CRLF (and literals) included
};

class OutputScanner {
 public:
  using Sink = std::function<void(const Response&)>;
  // Calls `sink` for every response completed by `bytes`, in order.
  void feed(std::string_view bytes, const Sink& sink);
  std::size_t buffered() const { return partial_.size(); }

 private:
  void emit(std::string_view response, const Sink& sink);
  std::string partial_;
  std::size_t line_start_ = 0;      // start of the current line in partial_
  std::uint64_t literal_left_ = 0;  // literal bytes still to come
};

// The size announced at the end of a line (without CRLF): "... {12}" -> 12; nullopt-like -1 if none.
std::int64_t trailing_literal(std::string_view line);

}  // namespace pimap::edge::https
