#pragma once
// One IMAP connection from the edge to the message store over implicit TLS, built on net::Connection
// (socket, TLS, bounded output) and imap::ResponseReader (framing and parsing of the store's
// responses). It runs one command at a time; the StoreSession above it decides what to send.
//
// Failures are results, not exceptions: a refused or slow connect, a certificate that does not
// verify, a command without answer (no bytes for the timeout) or a store that goes away completes
// the pending operation with StoreStatus::unavailable and leaves the connection unusable. Timeouts
// are inactivity bounds: a 50 MB FETCH keeps its command alive as long as bytes keep coming.
//
// Threading: everything runs on the executor given to create(). Untagged responses are handed over
// as they are parsed (the Response views stay valid only during the call); completions of commands
// answered by the store run from the read handler, failures are posted, so no handler ever runs
// inside the call that registered it.
//
// Credentials: the text of a command is never logged or kept after it is written.

#include "store_gateway.hpp"

#include <pimap/imap/response.hpp>
#include <pimap/imap/response_reader.hpp>
#include <pimap/net/connection.hpp>
#include <pimap/net/tls_context.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pimap::edge {

// Where the store is and how long to wait for it; shared by every backend connection of a pool.
struct StoreEndpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 993;
  std::string server_name = "localhost";  // the name the store's certificate must carry
  std::shared_ptr<const net::TlsContext> tls;
  std::chrono::milliseconds connect_timeout{5'000};  // resolve + TCP + TLS + greeting
  std::chrono::milliseconds login_timeout{20'000};   // the credential check (stores delay failures)
  std::chrono::milliseconds command_timeout{5'000};  // silence while a command runs
  // pimap_edge_backend_connections and pimap_edge_backend_commands_total{result} (by StoreStatus);
  // null in tests that do not care.
  prometheus::Gauge* connections = nullptr;
  std::array<prometheus::Counter*, 4> commands{};
};

struct StoreReply {
  StoreStatus status = StoreStatus::unavailable;
  // The tagged response after the tag, without CRLF ("OK [READ-WRITE] Select completed."); the
  // greeting's text for open(); for `unavailable`, why.
  std::string text;
  // The [CAPABILITY ...] code of the tagged response or greeting, upper-case; empty if none.
  std::vector<std::string> capabilities;
  // The response code's name, upper-case (e.g. "AUTHENTICATIONFAILED", "UNAVAILABLE"); empty if none.
  std::string code;
};

class StoreConnection : public std::enable_shared_from_this<StoreConnection> {
 public:
  using OnResponse = std::function<void(const imap::Response&)>;
  using OnReply = std::function<void(StoreReply)>;

  static std::shared_ptr<StoreConnection> create(boost::asio::any_io_executor executor,
                                                 std::shared_ptr<const StoreEndpoint> endpoint);
  StoreConnection(boost::asio::any_io_executor executor, std::shared_ptr<const StoreEndpoint> endpoint);
  ~StoreConnection();

  // Resolves and connects, verifies the store's certificate for endpoint.server_name and reads the
  // greeting, within endpoint.connect_timeout. `done`: ok with the greeting's capabilities, or
  // unavailable (a greeting other than OK counts as unavailable).
  void open(OnReply done);

  // Sends "<tag> <command>"; `command` ends in CRLF and carries only non-synchronising literals.
  // Untagged responses go to `on_untagged` until the tagged one completes `done`. One command at a
  // time: a second one while busy() fails as bad. `timeout` zero: endpoint.command_timeout.
  void command(std::string command, OnResponse on_untagged, OnReply done,
               std::chrono::milliseconds timeout = {});

  // Untagged responses that arrive while no command runs (the store may send EXPUNGE, EXISTS or BYE
  // at any time).
  void set_unsolicited(OnResponse handler) { unsolicited_ = std::move(handler); }
  // Flow control toward the device: while paused the store's socket is not read (the store's own
  // send buffer then fills and it waits), and the silence timeout is suspended, since the silence
  // is ours. Responses already buffered are still delivered.
  void pause_reading();
  void resume_reading();

  // Polite end: LOGOUT, then TLS close_notify and FIN. Aborts instead while a command runs.
  void logout();
  // Immediate end; a running command completes as unavailable.
  void abort();

  // Greeting received, not failed, not closing.
  bool usable() const noexcept { return state_ == State::ready; }
  bool busy() const noexcept { return static_cast<bool>(done_); }

 private:
  enum class State { idle, connecting, greeting, ready, closed };

  void on_connected();
  void read();
  void on_input(std::span<const char> data);
  void handle(const imap::Response& r);
  void handle_unparsable();
  void complete(StoreReply reply);
  void fail(std::string reason);
  void write_from(std::shared_ptr<std::string> data, std::size_t offset);
  void arm_timer(std::chrono::milliseconds timeout);
  void count(StoreStatus status);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<const StoreEndpoint> endpoint_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  std::shared_ptr<net::Connection> conn_;
  boost::asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;
  std::chrono::milliseconds active_timeout_{0};
  imap::ResponseReader reader_;
  imap::Response response_;
  State state_ = State::idle;
  bool reading_ = false;
  bool paused_ = false;
  std::uint64_t next_tag_ = 0;
  std::string tag_;      // of the running command (or empty)
  OnResponse on_untagged_;
  OnReply done_;         // set while open() or a command runs
  OnResponse unsolicited_;
};

}  // namespace pimap::edge
