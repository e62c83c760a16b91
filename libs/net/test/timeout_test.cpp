// Deadlines: a client that never starts its handshake is dropped; an idle reader is told.

#include "support.hpp"

#include <pimap/net/error.hpp>

#include <gtest/gtest.h>

namespace pimap::net::test {
namespace {

TEST(Timeouts, SilentClientHitsTheHandshakeTimeout) {
  auto ctx = std::make_shared<TlsContext>(server_context());
  auto events = std::make_shared<Events>();
  ListenerOptions options;
  options.connection.handshake_timeout = 300ms;
  Server server(
      [ctx, events](std::shared_ptr<Connection> c) {
        c->start_tls(*ctx, [c, events](Connection::error_code ec) {
          events->add(ec ? "tls:" + ec.message() : "tls:ok");
          events->add(c->is_open() ? "open" : "closed");
        });
      },
      options);
  RawClient raw(server.port());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(raw.closed_by_peer(5s));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 3s);
  EXPECT_TRUE(events->wait_for("tls:" + make_error_code(errc::handshake_timeout).message()));
  EXPECT_TRUE(events->wait_for("closed"));
  EXPECT_EQ(server.listener().stats().open, 0u);
}

void read_with_idle(std::shared_ptr<Connection> c, std::shared_ptr<Events> events) {
  c->async_read_some([c, events](Connection::error_code ec, std::span<const char> data) {
    if (ec == errc::idle_timeout) {
      events->add(c->is_open() ? "idle:open" : "idle:closed");
      read_with_idle(c, events);  // the owner decides: keep waiting
      return std::size_t{0};
    }
    if (ec) {
      events->add("error:" + ec.message());
      return std::size_t{0};
    }
    events->add("data:" + std::string(data.data(), data.size()));
    read_with_idle(c, events);
    return data.size();
  });
}

TEST(Timeouts, IdleTimeoutIsReportedAndTheConnectionStaysUsable) {
  auto events = std::make_shared<Events>();
  ListenerOptions options;
  options.connection.idle_timeout = 200ms;
  Server server([events](std::shared_ptr<Connection> c) { read_with_idle(c, events); }, options);
  RawClient raw(server.port());
  ASSERT_TRUE(events->wait_for("idle:open", 3s));
  raw.send("still here");
  EXPECT_TRUE(events->wait_for("data:still here"));
}

}  // namespace
}  // namespace pimap::net::test
