#pragma once

// Asynchronous IMAP client on Boost.Asio (edge -> store, store-watcher -> store).
//
// Every operation takes an Asio completion token: a callback, boost::asio::use_awaitable,
// boost::asio::deferred, use_future... The implementation (sockets, TLS, zlib) lives in one
// translation unit behind type-erased handlers, so including this header stays cheap.
//
//   Client c(io.get_executor(), {.host = "localhost", .port = 993, .security = Security::implicit_tls,
//                                .ca_file = "/etc/pimap/ca.pem"});
//   co_await c.async_connect(use_awaitable);
//   auto login = co_await c.async_login_master("alice", "svc", master_password, use_awaitable);
//   if (!login.ok()) ...                                  // NO / BAD are results, not errors
//   co_await c.async_enable({"QRESYNC"}, use_awaitable);
//   auto sel = co_await c.async_command(ClientCommand("SELECT INBOX (QRESYNC (1 42))"), use_awaitable);
//   for (const OwnedResponse& r : sel.untagged) ...       // VANISHED (EARLIER), FETCH, OK [HIGHESTMODSEQ]
//   co_await c.async_idle([](const Response& r) { ... }, use_awaitable);   // returns once idling
//   ...
//   co_await c.async_idle_done(use_awaitable);
//
// Model
// - Pipelining: commands may be issued back to back; each gets a tag, is written in order, and
//   completes when its tagged response arrives. STARTTLS, COMPRESS and IDLE are barriers: written
//   only when nothing else is in flight, and nothing else is written until they end.
// - Untagged responses are delivered exactly once: to the oldest command in flight (collected into
//   its CommandResult, or streamed to its on_untagged handler; ESEARCH goes to the command its TAG
//   names), or - when no command is in flight - to the session handler (set_untagged_handler).
//   During IDLE they go to the IDLE handler. Handlers run on the client's executor with a Response
//   whose views are valid only during the call.
// - Literals: synchronising literals wait for `+`; LITERAL+ / LITERAL- are used when offered.
// - Errors: completion error codes are transport/timeout/protocol failures (client_error.hpp);
//   any such failure closes the connection and fails every pending operation (ClientErrc::closed
//   for those that did not cause it). NO/BAD are in CommandResult::status.
// - Timeouts: connect (resolve + TCP), TLS handshake, greeting, and each command (from being sent
//   until its tagged response; an IDLE is exempt while idling). A timeout fails the operation with
//   the matching ClientErrc and closes the connection, since its state is then unknown.
// - Threading: one client is not thread-safe. Its operations may be started from any thread when
//   the executor is a strand or a single-threaded io_context; handlers run on the executor.
// - Credentials never appear in traces or error texts (sensitive commands are redacted).

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pimap/imap/client_command.hpp"
#include "pimap/imap/client_error.hpp"
#include "pimap/imap/response.hpp"
#include "pimap/imap/response_owned.hpp"

namespace pimap::imap {

enum class Security : std::uint8_t {
  plain,         // no TLS (tests, loopback only)
  starttls,      // plaintext greeting, then STARTTLS; fails if the server does not offer it
  implicit_tls,  // TLS from the first byte (port 993)
};

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 143;
  Security security = Security::starttls;
  // Certificates are always verified unless verify_certificate is false: chain against ca_file
  // (PEM; empty: the system's default paths) and name against tls_server_name (default: host),
  // which may be a DNS name or an IP address. tls_server_name is also sent as SNI.
  std::string ca_file;
  std::string tls_server_name;
  bool verify_certificate = true;

  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds tls_timeout{10'000};
  std::chrono::milliseconds greeting_timeout{10'000};
  std::chrono::milliseconds command_timeout{60'000};

  // Send non-synchronising literals when the server offers LITERAL+ / LITERAL-.
  bool use_literal_plus = true;
  std::string tag_prefix = "P";
  std::string master_user_separator = "*";  // Dovecot's auth_master_user_separator
  std::size_t read_chunk = 64 * 1024;
  ResponseLimits limits;
};

struct CommandResult {
  ResponseStatus status = ResponseStatus::none;  // ok / no / bad
  OwnedResponse tagged;                          // the tagged completion: code(), text()
  std::vector<OwnedResponse> untagged;           // collected untagged responses, in arrival order

  bool ok() const noexcept { return status == ResponseStatus::ok; }
  const ResponseCode& code() const noexcept { return tagged->code; }
  std::string_view text() const noexcept { return tagged->text; }
};

enum class TraceDirection : std::uint8_t { sent, received };

class Client {
 public:
  using executor_type = boost::asio::any_io_executor;
  using ConnectHandler = boost::asio::any_completion_handler<void(boost::system::error_code)>;
  using CommandHandler = boost::asio::any_completion_handler<void(boost::system::error_code, CommandResult)>;
  using UntaggedHandler = std::function<void(const Response&)>;

  Client(executor_type ex, ClientOptions options);
  // Closes the connection; operations still pending complete with an error (on the executor).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  executor_type get_executor() const noexcept;

  // Connects, negotiates TLS as configured, reads the greeting and learns the capabilities.
  // Signature: void(error_code).
  template <typename Token>
  auto async_connect(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) { start_connect(ConnectHandler(std::move(handler))); }, token);
  }

  // Any command; signature void(error_code, CommandResult).
  template <typename Token>
  auto async_command(ClientCommand cmd, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, CommandResult)>(
        [this](auto handler, ClientCommand c) { start_command(std::move(c), CommandHandler(std::move(handler))); },
        token, std::move(cmd));
  }

  // LOGIN user password. Refreshes capabilities() on success.
  template <typename Token>
  auto async_login(std::string_view user, std::string_view password, Token&& token) {
    return async_command(login_command(user, password), std::forward<Token>(token));
  }
  // LOGIN user<separator>master master_password: Dovecot master-user login as `user`.
  template <typename Token>
  auto async_login_master(std::string_view user, std::string_view master_user, std::string_view master_password,
                          Token&& token) {
    return async_command(login_command(std::string(user) + options_separator() + std::string(master_user),
                                       master_password),
                         std::forward<Token>(token));
  }
  // AUTHENTICATE PLAIN (RFC 4616), with SASL-IR when offered. A non-empty authzid with a master
  // user as authcid is the SASL form of a master-user login.
  template <typename Token>
  auto async_authenticate_plain(std::string_view authcid, std::string_view password, std::string_view authzid,
                                Token&& token) {
    return async_command(authenticate_plain_command(authcid, password, authzid), std::forward<Token>(token));
  }
  // ENABLE caps... (RFC 5161); enabled() reflects the server's `* ENABLED`.
  template <typename Token>
  auto async_enable(const std::vector<std::string>& caps, Token&& token) {
    ClientCommand c("ENABLE");
    for (const auto& cap : caps) c.arg(cap);
    return async_command(std::move(c), std::forward<Token>(token));
  }
  // NOTIFY SET <spec> (RFC 5465), e.g. "STATUS (selected (MessageNew MessageExpunge FlagChange))
  // (subtree INBOX (MessageNew MessageExpunge))". Events arrive at the session handler / IDLE.
  template <typename Token>
  auto async_notify_set(std::string_view spec, Token&& token) {
    return async_command(ClientCommand("NOTIFY SET").arg(spec), std::forward<Token>(token));
  }
  // COMPRESS DEFLATE (RFC 4978): on OK every later byte is deflated both ways.
  template <typename Token>
  auto async_compress(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, CommandResult)>(
        [this](auto handler) { start_compress(CommandHandler(std::move(handler))); }, token);
  }
  // IDLE (RFC 2177). Completes with void(error_code) once the server's `+` arrived; until
  // async_idle_done, untagged responses go to `on_untagged`. ClientErrc::idle_rejected if the
  // server answers NO/BAD. Servers end IDLE after ~30 min: re-IDLE well before.
  template <typename Token>
  auto async_idle(UntaggedHandler on_untagged, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler, UntaggedHandler h) { start_idle(std::move(h), ConnectHandler(std::move(handler))); },
        token, std::move(on_untagged));
  }
  // Sends DONE; completes with the IDLE command's tagged result.
  template <typename Token>
  auto async_idle_done(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, CommandResult)>(
        [this](auto handler) { start_idle_done(CommandHandler(std::move(handler))); }, token);
  }
  // LOGOUT; the server's BYE is in the result, then the connection closes.
  template <typename Token>
  auto async_logout(Token&& token) {
    return async_command(ClientCommand("LOGOUT"), std::forward<Token>(token));
  }

  // Untagged responses that arrive while no command is in flight (NOTIFY events, EXISTS after
  // NOOP-less waits, BYE before a shutdown).
  void set_untagged_handler(UntaggedHandler h);
  // Every response line received (raw, literals included) and every command sent (redacted).
  void set_trace(std::function<void(TraceDirection, std::string_view)> trace);
  // Called once when the connection ends for any reason (error, server close, close()), e.g. to
  // notice a dead connection while idling.
  void set_closed_handler(std::function<void(boost::system::error_code)> h);
  // Closes the socket at once; pending operations complete with operation_aborted.
  void close();

  bool connected() const noexcept;
  bool tls_active() const noexcept;
  bool compression_active() const noexcept;
  bool idling() const noexcept;
  std::size_t commands_in_flight() const noexcept;
  // Capabilities as last announced (greeting code, CAPABILITY response or code); case-insensitive.
  bool has_capability(std::string_view cap) const;
  std::vector<std::string> capabilities() const;
  // Extensions the server confirmed with `* ENABLED`.
  bool is_enabled(std::string_view cap) const;
  // The greeting's text, e.g. "Dovecot (Debian) ready.".
  std::string greeting() const;
  // Untagged responses the client had to drop as malformed (never delivered to handlers).
  std::uint64_t malformed_responses() const noexcept;
  // Why the connection ended (empty while it is open).
  boost::system::error_code last_error() const noexcept;

 private:
  struct Impl;

  void start_connect(ConnectHandler h);
  void start_command(ClientCommand cmd, CommandHandler h);
  void start_compress(CommandHandler h);
  void start_idle(UntaggedHandler on_untagged, ConnectHandler h);
  void start_idle_done(CommandHandler h);
  static ClientCommand login_command(std::string_view user, std::string_view password);
  ClientCommand authenticate_plain_command(std::string_view authcid, std::string_view password,
                                           std::string_view authzid) const;
  const std::string& options_separator() const noexcept;

  std::shared_ptr<Impl> impl_;
};

}  // namespace pimap::imap
