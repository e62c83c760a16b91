#include "edge_server.hpp"

namespace pimap::edge {

TcpBinding::TcpBinding(net::IoPool& pool, const net::TlsContext& tls, TcpBindingOptions options, FrontContext front)
    : pool_(pool), tls_(tls), options_(std::move(options)) {
  FrontContext plain = front;
  plain.binding = "imap";
  plain.starttls = &tls_;
  imap_front_ = std::make_shared<const FrontContext>(std::move(plain));
  FrontContext implicit = std::move(front);
  implicit.binding = "imaps";
  implicit.starttls = nullptr;
  imaps_front_ = std::make_shared<const FrontContext>(std::move(implicit));

  net::ListenerOptions lo;
  lo.max_connections = options_.max_connections;
  lo.connection.handshake_timeout = options_.handshake_timeout;
  lo.connection.max_output_bytes = options_.max_output_bytes;
  if (options_.imap_host) {
    lo.host = *options_.imap_host;
    lo.port = options_.imap_port;
    imap_ = net::Listener::create(pool_, lo, [front = imap_front_](std::shared_ptr<net::Connection> c) {
      front->metrics->accepted("imap").Increment();
      ImapConnection::start(std::move(c), front);
    });
  }
  if (options_.imaps_host) {
    lo.host = *options_.imaps_host;
    lo.port = options_.imaps_port;
    imaps_ = net::Listener::create(pool_, lo, [front = imaps_front_, &tls = tls_](std::shared_ptr<net::Connection> c) {
      front->metrics->accepted("imaps").Increment();
      auto conn = c;
      conn->start_tls(tls, [c = std::move(c), front](boost::system::error_code ec) mutable {
        if (!ec) ImapConnection::start(std::move(c), front);
      });
    });
  }
}

TcpBinding::~TcpBinding() { stop_accepting(); }

void TcpBinding::start() {
  if (imap_) imap_->start();
  if (imaps_) imaps_->start();
}

void TcpBinding::stop_accepting() {
  if (imap_) imap_->stop_accepting();
  if (imaps_) imaps_->stop_accepting();
}

std::uint16_t TcpBinding::imap_port() const { return imap_ ? imap_->port() : 0; }
std::uint16_t TcpBinding::imaps_port() const { return imaps_ ? imaps_->port() : 0; }

std::size_t TcpBinding::open_connections() const {
  return (imap_ ? imap_->stats().open : 0) + (imaps_ ? imaps_->stats().open : 0);
}

}  // namespace pimap::edge
