#pragma once

// Incremental IMAP command parser (device -> edge).
//
//   CommandParser p;                      // one per connection
//   p.feed(bytes_from_socket);            // any split, even one byte at a time
//   for (;;) {
//     ParseEvent ev = p.next();
//     if (std::holds_alternative<NeedMore>(ev)) break;          // read more from the socket
//     if (auto* c = std::get_if<LiteralContinuation>(&ev)) ... // send "+ Ready" (or p.reject_literal())
//     if (auto* cmd = std::get_if<Command>(&ev)) ...           // run it
//     if (auto* err = std::get_if<ParseError>(&ev)) send(err->response());
//     if (std::holds_alternative<IdleDone>(ev)) ...            // end the IDLE
//     if (auto* s = std::get_if<SaslResponse>(&ev)) ...        // next AUTHENTICATE step
//   }
//
// The parser frames commands line by line and literal by literal, holding only the command being read
// (bounded by ParserLimits). It parses the grammar once a command is complete, so a Command never refers
// to the input buffers. next() returns one event per call and consumes no input beyond that event, so the
// caller can switch modes (expect_idle_done / expect_sasl_response) between events even when the client
// pipelines.
//
// Errors never end the parser: after a ParseError it skips the rest of the offending line and any
// non-synchronising literal that line announced, and carries on with the next command.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "pimap/imap/command.hpp"
#include "pimap/imap/limits.hpp"
#include "pimap/imap/parse_error.hpp"

namespace pimap::imap {

// All input so far has been consumed; feed more.
struct NeedMore {
  bool operator==(const NeedMore&) const = default;
};

// The client announced a synchronising literal ({n} or ~{n}) that is within the limits, and waits for a
// continuation request. Send "+ ..." (then keep feeding: the literal follows), or call
// CommandParser::reject_literal() and answer the tagged NO/BAD yourself.
struct LiteralContinuation {
  std::string tag;
  std::string command;  // upper-case command name so far (after UID), e.g. "APPEND"; may be empty
  std::uint64_t size = 0;
  bool binary = false;  // ~{n}
  bool operator==(const LiteralContinuation&) const = default;
};

// The DONE line that ends IDLE (RFC 2177), after expect_idle_done().
struct IdleDone {
  bool operator==(const IdleDone&) const = default;
};

// A client line during AUTHENTICATE, after expect_sasl_response(): base64 data, or "*" to cancel
// (RFC 9051 §6.2.2). Not validated: the SASL mechanism decodes it.
struct SaslResponse {
  std::string line;  // without CRLF
  bool cancelled() const { return line == "*"; }
  bool operator==(const SaslResponse&) const = default;
};

using ParseEvent = std::variant<NeedMore, Command, LiteralContinuation, IdleDone, SaslResponse, ParseError>;

class CommandParser {
 public:
  explicit CommandParser(ParserLimits limits = {});

  // Queues bytes. Cheap; parsing happens in next().
  void feed(std::string_view bytes);
  void feed(std::span<const std::byte> bytes);

  // The next event, or NeedMore when the queued bytes do not complete one.
  ParseEvent next();

  // The server sent "+ idling": the next line must be DONE (-> IdleDone; anything else -> ParseError
  // expected_done). Returns false (and changes nothing) in the middle of a command.
  bool expect_idle_done();
  // The server sent an AUTHENTICATE challenge "+ ...": the next line is a SaslResponse. Same rule.
  bool expect_sasl_response();
  // Instead of "+": drop the command whose synchronising literal was just announced (the client does not
  // send it once it sees the tagged response). Only valid right after a LiteralContinuation event.
  bool reject_literal();

  // True between commands (nothing of a partial command held).
  bool idle() const;
  // Bytes queued by feed() and not yet consumed by next().
  std::size_t buffered() const { return in_.size() - in_pos_; }
  const ParserLimits& limits() const { return limits_; }

 private:
  enum class State : std::uint8_t { line, literal, discard_line, discard_literal };
  enum class Mode : std::uint8_t { command, idle_done, sasl };

  // Tracks, byte by byte, whether a line is inside a quoted string and whether it ends in a literal
  // announcement "{n}", "{n+}", "~{n}", so framing never needs to look back.
  struct LineScan {
    enum class Quote : std::uint8_t { out, in, escape };
    enum class Lit : std::uint8_t { none, open, digits, plus, closed, closed_cr };
    Quote quote = Quote::out;
    Lit lit = Lit::none;
    bool binary = false;
    bool nonsync = false;
    char prev = 0;
    std::uint64_t value = 0;
    void reset() { *this = LineScan{}; }
    void scan(std::string_view bytes);
    bool literal_at_end() const { return lit == Lit::closed || lit == Lit::closed_cr; }
  };

  // nullopt: nothing to report yet, keep framing.
  std::optional<ParseEvent> on_line_end();
  std::optional<ParseEvent> on_literal_announced();
  std::optional<ParseEvent> finish_command();
  ParseError error_here(ErrorCode code, std::string reason);
  void start_discarding(bool in_line);
  void reset_command();
  void compact();

  ParserLimits limits_;
  std::string in_;          // queued input
  std::size_t in_pos_ = 0;  // consumed prefix of in_
  State state_ = State::line;
  Mode mode_ = Mode::command;
  std::string cur_;               // bytes of the command being framed
  std::size_t seg_start_ = 0;     // start of the current line in cur_
  std::size_t text_bytes_ = 0;    // non-literal bytes of the command before the current line
  std::uint64_t literal_left_ = 0;
  std::uint64_t literal_bytes_ = 0;  // all literals of the command so far
  bool continuation_pending_ = false;
  bool discard_literals_ = true;  // while discarding: honour non-sync literal announcements
  LineScan scan_;
};

// Parses one complete command held in `bytes` (literals inline, continuation requests skipped): for tests,
// tools and HTTP batches already in memory. Returns the first command or error; `consumed` (optional)
// receives the number of bytes it used.
std::variant<Command, ParseError> parse_command(std::string_view bytes, const ParserLimits& limits = {},
                                                std::size_t* consumed = nullptr);

}  // namespace pimap::imap
