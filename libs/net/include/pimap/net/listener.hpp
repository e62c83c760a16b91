#pragma once
// Accepts TCP connections on host:port and hands each, wrapped in a Connection, to a handler that
// runs on one of the IoPool's io_contexts (round-robin). The acceptor itself runs on the pool's
// first io_context.
//
// Limits protect the process rather than the peer: over max_connections, or over the per-source
// accept rate, a new connection is closed at once and counted. Running out of descriptors
// (EMFILE: this platform caps a process at 20,000) pauses accepting briefly instead of spinning.

#include <pimap/net/connection.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

namespace pimap::net {

class IoPool;

struct ListenerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: pick a free port (see Listener::port())
  int backlog = 1024;
  // Open connections (counted until each one's socket closes); 0: unlimited.
  std::size_t max_connections = 0;
  // New connections per source address per second; 0: unlimited.
  unsigned max_accepts_per_source_per_second = 0;
  ConnectionOptions connection;
};

struct ListenerStats {
  std::uint64_t accepted = 0;         // handed to the handler
  std::uint64_t refused_limit = 0;    // closed because max_connections was reached
  std::uint64_t refused_rate = 0;     // closed because the source exceeded its rate
  std::uint64_t accept_errors = 0;    // EMFILE and friends
  std::size_t open = 0;               // accepted and not yet closed
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using AcceptHandler = std::function<void(std::shared_ptr<Connection>)>;

  // Binds and listens at once (throws boost::system::system_error, e.g. address in use); call
  // start() to accept. `pool` must outlive the listener's work.
  static std::shared_ptr<Listener> create(IoPool& pool, ListenerOptions options,
                                          AcceptHandler handler);

  void start();
  // Graceful drain: closes the listening socket; open connections are not touched. Thread-safe.
  void stop_accepting();

  std::uint16_t port() const noexcept { return port_; }
  ListenerStats stats() const noexcept;

 private:
  struct Counters;
  Listener(IoPool& pool, ListenerOptions options, AcceptHandler handler);
  void accept_next();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);
  bool rate_allows(const boost::asio::ip::address& source);

  IoPool& pool_;
  ListenerOptions options_;
  AcceptHandler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  std::uint16_t port_ = 0;
  std::shared_ptr<Counters> counters_;
  std::unordered_map<boost::asio::ip::address, unsigned> rate_window_;
  std::chrono::steady_clock::time_point rate_window_start_{};
};

}  // namespace pimap::net
