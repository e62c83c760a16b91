// GCC 12 at -O2 reports a false "potential null pointer dereference" inside Asio's type-erased
// executor comparison (any_io_executor), inlined here from system headers.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <pimap/net/listener.hpp>

#include <pimap/net/io_pool.hpp>

#include <boost/asio/post.hpp>

#include <cerrno>

namespace pimap::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Listener::Counters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused_limit{0};
  std::atomic<std::uint64_t> refused_rate{0};
  std::atomic<std::uint64_t> accept_errors{0};
  std::atomic<std::size_t> open{0};
};

std::shared_ptr<Listener> Listener::create(IoPool& pool, ListenerOptions options,
                                           AcceptHandler handler) {
  return std::shared_ptr<Listener>(new Listener(pool, std::move(options), std::move(handler)));
}

Listener::Listener(IoPool& pool, ListenerOptions options, AcceptHandler handler)
    : pool_(pool),
      options_(std::move(options)),
      handler_(std::move(handler)),
      acceptor_(pool.at(0)),
      retry_timer_(pool.at(0)),
      counters_(std::make_shared<Counters>()) {
  const tcp::endpoint endpoint(asio::ip::make_address(options_.host), options_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(options_.backlog);
  port_ = acceptor_.local_endpoint().port();
}

void Listener::start() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->accept_next(); });
}

void Listener::stop_accepting() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->retry_timer_.cancel();
    self->acceptor_.close(ignored);
  });
}

ListenerStats Listener::stats() const noexcept {
  ListenerStats s;
  s.accepted = counters_->accepted.load();
  s.refused_limit = counters_->refused_limit.load();
  s.refused_rate = counters_->refused_rate.load();
  s.accept_errors = counters_->accept_errors.load();
  s.open = counters_->open.load();
  return s;
}

void Listener::accept_next() {
  if (!acceptor_.is_open()) return;
  acceptor_.async_accept(pool_.next(), [self = shared_from_this()](boost::system::error_code ec,
                                                                   tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

bool Listener::rate_allows(const asio::ip::address& source) {
  if (options_.max_accepts_per_source_per_second == 0) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now - rate_window_start_ >= std::chrono::seconds(1)) {
    rate_window_.clear();  // fixed one-second windows: bounded by the sources of one second
    rate_window_start_ = now;
  }
  return ++rate_window_[source] <= options_.max_accepts_per_source_per_second;
}

void Listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    counters_->accept_errors.fetch_add(1);
    // Out of descriptors (or similar): the pending connection stays in the backlog; try again
    // shortly instead of spinning on the same error.
    retry_timer_.expires_after(std::chrono::milliseconds(50));
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code tec) {
      if (!tec) self->accept_next();
    });
    return;
  }

  boost::system::error_code peer_ec;
  const auto peer = socket.remote_endpoint(peer_ec);
  if (options_.max_connections != 0 && counters_->open.load() >= options_.max_connections) {
    counters_->refused_limit.fetch_add(1);
    socket.close(peer_ec);
  } else if (!peer_ec && !rate_allows(peer.address())) {
    counters_->refused_rate.fetch_add(1);
    socket.close(peer_ec);
  } else {
    counters_->open.fetch_add(1);
    counters_->accepted.fetch_add(1);
    // The slot frees itself when the connection's socket closes (or the connection dies).
    std::shared_ptr<void> slot(nullptr, [counters = counters_](void*) { counters->open.fetch_sub(1); });
    auto executor = socket.get_executor();
    // Build the connection on its own thread: its timer and handlers belong there.
    asio::post(executor, [handler = handler_, options = options_.connection,
                          socket = std::move(socket), slot = std::move(slot)]() mutable {
      auto connection = Connection::create(std::move(socket), options);
      connection->hold_slot(std::move(slot));
      handler(std::move(connection));
    });
  }
  accept_next();
}

}  // namespace pimap::net
