#include "https_binding.hpp"

#include "imap_connection.hpp"

#include <boost/asio/post.hpp>

#include <future>

namespace pimap::edge {

HttpsBinding::HttpsBinding(const net::TlsContext& tls, HttpsBindingOptions options, FrontContext front)
    : pool_(1) {
  front.binding = "https";
  front.starttls = nullptr;
  auto ctx = std::make_shared<https::BindingContext>();
  ctx->http = options.http;
  ctx->session = options.session;
  ctx->log = front.log;
  ctx->registry = &registry_;
  ctx->front = std::make_shared<const FrontContext>(std::move(front));
  ctx_ = ctx;

  net::ListenerOptions lo;
  lo.host = options.host;
  lo.port = options.port;
  lo.max_connections = options.max_connections;
  lo.connection.handshake_timeout = options.handshake_timeout;
  lo.connection.max_output_bytes = options.max_output_bytes;
  lo.connection.idle_timeout = std::chrono::milliseconds(0);  // the HTTP layer keeps its own clocks
  listener_ = net::Listener::create(pool_, lo, [ctx = ctx_, &tls](std::shared_ptr<net::Connection> c) {
    ctx->front->metrics->accepted("https").Increment();
    auto conn = c;
    conn->start_tls(tls, [c = std::move(c), ctx](boost::system::error_code ec) mutable {
      if (!ec) https::serve_http(std::move(c), ctx);
    });
  });
}

HttpsBinding::~HttpsBinding() { stop(); }

void HttpsBinding::start() {
  listener_->start();
  pool_.start();
  started_ = true;
}

void HttpsBinding::stop_accepting() { listener_->stop_accepting(); }

void HttpsBinding::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_accepting();
  // The registry lives on the binding's thread; clear it there so each session's IMAP connection
  // detaches from the session service as after a dropped TCP connection.
  if (started_) {
    auto cleared = std::make_shared<std::promise<void>>();
    auto done = cleared->get_future();
    boost::asio::post(pool_.at(0), [this, cleared] {
      registry_.clear();
      cleared->set_value();
    });
    done.wait_for(std::chrono::seconds(5));
  }
  pool_.stop();
  pool_.join();
}

std::uint16_t HttpsBinding::port() const { return listener_->port(); }

std::size_t HttpsBinding::open_connections() const { return listener_->stats().open; }

}  // namespace pimap::edge
