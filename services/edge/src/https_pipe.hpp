#pragma once
// The net::Connection an ImapConnection talks to on the HTTPS binding: instead of a socket, input is
// the command bytes of HTTP request bodies (deliver()) and output goes to whoever serves the current
// request (the Owner). This is what lets the one IMAP state machine of imap_connection.* serve both
// bindings; the HTTP side (https_session.*) decides what goes into which response.
//
// Between requests the state machine keeps its pending read here, and its writes wait in a bounded
// backlog that the next request takes first (profile §10: "events queued since the last request come
// first in the next response").
//
// Single-threaded: every member runs on the HTTPS binding's io_context; handlers are posted, never run
// inside the call that registered them (the net::Connection contract).

#include <pimap/net/connection.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace pimap::edge::https {

class Pipe final : public net::Connection, public std::enable_shared_from_this<Pipe> {
 public:
  // Bytes the state machine wrote, for the request being served. Returning false refuses them
  // (errc::slow_consumer). Empty: no request bound, output goes to the backlog.
  using Output = std::function<bool(std::string_view)>;
  // The state machine closed (LOGOUT, BYE) or aborted the connection.
  using Closed = std::function<void(bool aborted)>;

  Pipe(boost::asio::any_io_executor executor, boost::asio::ip::tcp::endpoint peer, std::size_t max_backlog);

  // The state machine's input: appended to what it has not read yet, handed over by its next read.
  void deliver(std::string_view bytes);
  void set_output(Output output) { output_ = std::move(output); }
  void set_closed_handler(Closed closed) { closed_ = std::move(closed); }

  void set_peer(const boost::asio::ip::tcp::endpoint& peer) { peer_ = peer; }
  // Output written while no request was bound; cleared by the call.
  std::string take_backlog() { return std::exchange(backlog_, {}); }
  const std::string& backlog() const { return backlog_; }

  void async_read_some(ReadHandler handler) override;
  error_code write(std::string_view bytes) override;
  void async_flush(Handler handler) override;
  void start_tls(const net::TlsContext& context, Handler handler, std::string_view server_name) override;
  void close(Handler handler) override;
  void abort() override;
  bool is_open() const noexcept override { return open_; }
  net::Security security() const noexcept override { return net::Security::tls_lean; }
  std::size_t queued_output_bytes() const noexcept override { return 0; }
  net::ConnectionStats stats() const noexcept override { return stats_; }
  const boost::asio::ip::tcp::endpoint& peer() const noexcept override { return peer_; }
  boost::asio::any_io_executor executor() noexcept override { return executor_; }
  void hold_slot(std::shared_ptr<void> slot) override { slot_ = std::move(slot); }

 private:
  void hand_over();
  void shut(bool aborted, Handler handler);

  boost::asio::any_io_executor executor_;
  boost::asio::ip::tcp::endpoint peer_;
  std::size_t max_backlog_;
  Output output_;
  Closed closed_;
  ReadHandler read_handler_;
  std::string inbox_;
  std::string backlog_;
  bool open_ = true;
  bool handing_over_ = false;
  net::ConnectionStats stats_;
  std::shared_ptr<void> slot_;
};

}  // namespace pimap::edge::https
