#pragma once
// The HTTPS binding (profile §10; docs/https-binding.md): a TLS listener whose connections speak
// HTTP/1.1 and carry P-IMAP in request bodies.
//
// It runs on its own single io_context thread: a device's Session outlives the HTTP connections
// that use it, and a later request (any connection) must reach it without locking. The TCP
// binding's threads are not shared.

#include "https_connection.hpp"

#include <pimap/net/io_pool.hpp>
#include <pimap/net/listener.hpp>
#include <pimap/net/tls_context.hpp>

#include <memory>
#include <string>

namespace pimap::edge {

struct HttpsBindingOptions {
  std::string host;
  std::uint16_t port = 0;
  std::size_t max_connections = 19'000;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::size_t max_output_bytes = 1024 * 1024;
  https::HttpOptions http;
  https::SessionOptions session;
};

class HttpsBinding {
 public:
  // `front` is copied (binding name "https", no STARTTLS).
  HttpsBinding(const net::TlsContext& tls, HttpsBindingOptions options, FrontContext front);
  ~HttpsBinding();

  void start();
  void stop_accepting();
  // Ends every device session held here (their P-IMAP sessions live on in the session service) and
  // stops the thread.
  void stop();
  std::uint16_t port() const;
  std::size_t open_connections() const;

 private:
  net::IoPool pool_;
  https::Registry registry_;
  std::shared_ptr<const https::BindingContext> ctx_;
  std::shared_ptr<net::Listener> listener_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace pimap::edge
