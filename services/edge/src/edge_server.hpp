#pragma once
// The TCP binding: the IMAP listeners (plain with STARTTLS, implicit TLS) on a pool of io_context
// threads, and the registry of live device connections used to drain them on shutdown.

#include "imap_connection.hpp"

#include <pimap/net/io_pool.hpp>
#include <pimap/net/listener.hpp>
#include <pimap/net/tls_context.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pimap::edge {

struct TcpBindingOptions {
  std::optional<std::string> imap_host;  // plain + STARTTLS listener; unset: none
  std::uint16_t imap_port = 0;
  std::optional<std::string> imaps_host; // implicit TLS listener; unset: none
  std::uint16_t imaps_port = 0;
  std::size_t max_connections = 19'000;  // per listener; this platform caps a process at 20,000 fds
  std::chrono::milliseconds handshake_timeout{10'000};
  std::size_t max_output_bytes = 1024 * 1024;
};

class TcpBinding {
 public:
  // `front` is copied per listener (binding name and STARTTLS context are filled in here).
  TcpBinding(net::IoPool& pool, const net::TlsContext& tls, TcpBindingOptions options, FrontContext front);
  ~TcpBinding();

  void start();
  void stop_accepting();
  std::uint16_t imap_port() const;
  std::uint16_t imaps_port() const;
  std::size_t open_connections() const;

 private:
  net::IoPool& pool_;
  const net::TlsContext& tls_;
  TcpBindingOptions options_;
  std::shared_ptr<const FrontContext> imap_front_;
  std::shared_ptr<const FrontContext> imaps_front_;
  std::shared_ptr<net::Listener> imap_;
  std::shared_ptr<net::Listener> imaps_;
};

}  // namespace pimap::edge
