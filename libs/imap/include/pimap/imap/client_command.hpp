#pragma once

// A command for pimap::imap::Client, without its tag: text, strings and literals, built up
// piece by piece. The client adds the tag, picks literal forms from the server's capabilities
// (LITERAL+ / LITERAL-) and sends synchronising literals only after the server's `+`.
//
//   ClientCommand("SELECT").astring(mailbox).raw(" (QRESYNC (67890007 90060115194045000))")
//   ClientCommand("UID FETCH 1:* (FLAGS)").on_untagged([](const Response& r) { ... })
//   ClientCommand("LOGIN").astring(user).astring(password).sensitive()

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pimap/imap/response.hpp"

namespace pimap::imap {

class ClientCommand {
 public:
  struct Piece {
    enum class Kind : std::uint8_t {
      text,          // sent as is
      literal,       // {n}/{n+} CRLF data
      continuation,  // CRLF, wait for `+`, then data (AUTHENTICATE responses)
    };
    Kind kind = Kind::text;
    std::string data;
  };

  ClientCommand() = default;
  // Tag-less command text, e.g. "NOOP" or "UID FETCH 1:* (FLAGS)". Must not contain CR, LF or NUL
  // (checked when sent: the command then fails with ClientErrc::invalid_command).
  explicit ClientCommand(std::string_view text);

  // SP + text as given: numbers, sequence sets, flag lists, any already valid IMAP syntax.
  ClientCommand& arg(std::string_view text);
  // Text as given, without a leading SP.
  ClientCommand& raw(std::string_view text);
  // SP + an astring: an atom when `s` is one, else as string().
  ClientCommand& astring(std::string_view s);
  // SP + a string: quoted when `s` is short 7-bit text, a literal otherwise.
  ClientCommand& string(std::string_view s);
  // SP + a literal, always.
  ClientCommand& literal(std::string_view s);
  // Ends the line; after the server's next `+` sends `line` CRLF (SASL exchanges).
  ClientCommand& continuation(std::string_view line);

  // The arguments never appear in traces or error texts (LOGIN, AUTHENTICATE).
  ClientCommand& sensitive(bool on = true) {
    sensitive_ = on;
    return *this;
  }
  // Overrides ClientOptions::command_timeout for this command (0: use the default).
  ClientCommand& timeout(std::chrono::milliseconds t) {
    timeout_ = t;
    return *this;
  }
  // Streams the untagged responses routed to this command to `fn` (called on the client's executor
  // while the response's bytes are valid) instead of collecting them in CommandResult::untagged.
  ClientCommand& on_untagged(std::function<void(const Response&)> fn) {
    on_untagged_ = std::move(fn);
    return *this;
  }

  const std::vector<Piece>& pieces() const noexcept { return pieces_; }
  bool is_sensitive() const noexcept { return sensitive_; }
  std::chrono::milliseconds timeout_value() const noexcept { return timeout_; }
  const std::function<void(const Response&)>& untagged_handler() const noexcept { return on_untagged_; }
  std::function<void(const Response&)> take_untagged_handler() noexcept { return std::move(on_untagged_); }
  // The command name for traces: the first word, or two for UID commands.
  std::string verb() const;
  // No CR/LF/NUL in text pieces or continuation lines.
  bool valid() const noexcept;

 private:
  Piece& text_piece();

  std::vector<Piece> pieces_;
  bool sensitive_ = false;
  std::chrono::milliseconds timeout_{0};
  std::function<void(const Response&)> on_untagged_;
};

// How literals may be sent: RFC 3501 synchronising only, LITERAL+ (RFC 7888) or LITERAL- (RFC 7888:
// non-synchronising up to 4096 bytes).
enum class LiteralMode : std::uint8_t { sync, plus, minus };

// One write of a command; after a chunk with wait_for_continuation the client waits for `+`.
struct CommandChunk {
  std::string bytes;
  bool wait_for_continuation = false;
};

// The wire form of `cmd` with `tag`: one chunk per synchronising literal or continuation, the last
// one ending in CRLF.
std::vector<CommandChunk> serialize_command(const ClientCommand& cmd, std::string_view tag, LiteralMode mode);

// What a trace may show of the command: "A7 LOGIN <redacted>" for sensitive ones, literal payloads
// summarised as {n bytes}.
std::string trace_command(const ClientCommand& cmd, std::string_view tag);

// True if `s` can be sent as an atom / as a quoted string.
bool is_imap_atom(std::string_view s) noexcept;
bool is_imap_quotable(std::string_view s) noexcept;

}  // namespace pimap::imap
