// The only translation unit with Beast code in the store-watcher.
#include "intake_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

namespace pimap::store_watcher {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct IntakeServer::Impl : std::enable_shared_from_this<IntakeServer::Impl> {
  Impl(asio::io_context& io_, Handler h) : io(io_), acceptor(io_), handler(std::move(h)) {}

  asio::io_context& io;
  tcp::acceptor acceptor;
  Handler handler;
  std::atomic<std::size_t> pending{0};
  std::atomic<bool> stopping{false};

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      beast::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      // One strand per connection: the answer is posted to it from another thread, and must not
      // run between handler() returning and the coroutine starting its wait (a lost wake-up).
      asio::co_spawn(asio::make_strand(io), serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      stream.expires_after(std::chrono::seconds(30));
      beast::error_code ec;
      co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;  // closed, timed out, or garbage: nothing to answer
      // Dovecot's HTTP client sends the first request of each connection with
      // `Expect: 100-continue` and holds the body back for 2 s unless told to go on: without this
      // answer the first change in every Dovecot process reached us 2 s late (and the IMAP command
      // or LMTP delivery that made it waited as long).
      if (beast::iequals(parser.get()[http::field::expect], "100-continue") && !parser.is_done()) {
        http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
        co_await http::async_write(stream, go_on, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
      }
      if (!parser.is_done())
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      auto req = parser.release();

      // The handler answers from any thread; the timer is the wake-up back onto this coroutine.
      struct Answer {
        int status = 500;
        std::string body;
      };
      auto answer = std::make_shared<Answer>();
      auto wake = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                       asio::steady_timer::time_point::max());
      pending.fetch_add(1);
      stream.expires_never();
      handler(req.method_string(), req.target(), req.body(), [answer, wake](int status, std::string body) {
        asio::post(wake->get_executor(), [answer, wake, status, body = std::move(body)]() mutable {
          answer->status = status;
          answer->body = std::move(body);
          wake->cancel();
        });
      });
      co_await wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      pending.fetch_sub(1);

      http::response<http::string_body> res{static_cast<http::status>(answer->status), req.version()};
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.keep_alive(req.keep_alive() && !stopping.load());
      res.body() = std::move(answer->body);
      res.prepare_payload();
      stream.expires_after(std::chrono::seconds(30));
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !res.keep_alive()) {
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        co_return;
      }
    }
  }
};

IntakeServer::IntakeServer(asio::io_context& io, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(handler))) {}

IntakeServer::~IntakeServer() { stop_accepting(); }

std::string IntakeServer::listen(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return "intake: bad listen address '" + host + "': " + ec.message();
  tcp::endpoint endpoint(address, port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return "intake: cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return {};
}

std::uint16_t IntakeServer::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void IntakeServer::stop_accepting() {
  impl_->stopping = true;
  asio::post(impl_->io, [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
}

std::size_t IntakeServer::in_flight() const { return impl_->pending.load(); }

}  // namespace pimap::store_watcher
