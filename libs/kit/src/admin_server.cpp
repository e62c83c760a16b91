// The only translation unit that includes Boost.Beast: it costs ~12 s to compile, so it stays here,
// behind AdminServer's pimpl.
#include "pimap/kit/admin_server.hpp"

#include <atomic>
#include <stdexcept>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace pimap::kit {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto request_timeout = std::chrono::seconds(10);
}  // namespace

struct AdminServer::Impl {
  HostPort listen;
  const Metrics& metrics;
  const Readiness& readiness;
  Logger log;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<std::uint16_t> port{0};

  Impl(HostPort l, const Metrics& m, const Readiness& r, Logger lg)
      : listen(std::move(l)), metrics(m), readiness(r), log(std::move(lg)) {}

  http::response<http::string_body> respond(const http::request<http::empty_body>& req) {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::cache_control, "no-store");
    auto text = [&](http::status status, std::string body, const char* type) {
      res.result(status);
      res.set(http::field::content_type, type);
      res.body() = std::move(body);
    };
    std::string_view target(req.target().data(), req.target().size());
    target = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get) {
      text(http::status::method_not_allowed, "method not allowed\n", "text/plain; charset=utf-8");
      res.set(http::field::allow, "GET");
    } else if (target == "/metrics") {
      try {
        text(http::status::ok, metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
      } catch (const std::exception& e) {
        log.error("admin: rendering metrics failed", {{"error", e.what()}});
        text(http::status::internal_server_error, "metrics unavailable\n", "text/plain; charset=utf-8");
      }
    } else if (target == "/healthz") {
      text(http::status::ok, "ok\n", "text/plain; charset=utf-8");
    } else if (target == "/readyz") {
      auto report = readiness.evaluate();
      text(report.ready ? http::status::ok : http::status::service_unavailable, report.to_json() + "\n",
           "application/json");
    } else {
      text(http::status::not_found, "not found\n", "text/plain; charset=utf-8");
    }
    res.prepare_payload();
    return res;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    boost::beast::tcp_stream stream(std::move(socket));
    boost::beast::flat_buffer buffer;
    for (;;) {
      stream.expires_after(request_timeout);
      http::request_parser<http::empty_body> parser;
      parser.header_limit(8 * 1024);
      auto [read_ec, read_n] = co_await http::async_read(stream, buffer, parser, use_tuple);
      (void)read_n;
      if (read_ec) break;
      auto res = respond(parser.get());
      auto [write_ec, write_n] = co_await http::async_write(stream, res, use_tuple);
      (void)write_n;
      if (write_ec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) continue;  // e.g. EMFILE: keep serving the connections we have
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }
};

AdminServer::AdminServer(HostPort listen, const Metrics& metrics, const Readiness& readiness, Logger log)
    : impl_(std::make_unique<Impl>(std::move(listen), metrics, readiness, std::move(log))) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  Impl& d = *impl_;
  boost::system::error_code ec;
  tcp::resolver resolver(d.io);
  auto endpoints = resolver.resolve(d.listen.host, std::to_string(d.listen.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty())
    throw std::runtime_error("admin: cannot resolve " + d.listen.to_string() + ": " + ec.message());
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  d.acceptor.open(endpoint.protocol(), ec);
  if (!ec) d.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor.bind(endpoint, ec);
  if (!ec) d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("admin: cannot listen on " + d.listen.to_string() + ": " + ec.message());
  d.port = d.acceptor.local_endpoint().port();
  asio::co_spawn(d.io, d.accept_loop(), asio::detached);
  d.thread = std::thread([&d] { d.io.run(); });
  d.log.info("admin server listening", {{"address", d.listen.host}, {"port", d.port.load()}});
}

void AdminServer::stop() {
  Impl& d = *impl_;
  if (!d.thread.joinable()) return;
  asio::post(d.io, [&d] {
    boost::system::error_code ignored;
    d.acceptor.close(ignored);
    d.io.stop();
  });
  d.thread.join();
}

std::uint16_t AdminServer::port() const { return impl_->port.load(); }

}  // namespace pimap::kit
