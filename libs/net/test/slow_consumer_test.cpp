// A peer that never reads costs at most max_output_bytes: write() says so and the owner drops it.

#include "support.hpp"

#include <pimap/net/error.hpp>

#include <boost/asio/post.hpp>

#include <gtest/gtest.h>

namespace pimap::net::test {
namespace {

constexpr std::size_t kLimit = 64 * 1024;

// Writes 8 KiB at a time, yielding between writes, until write() refuses.
void flood(std::shared_ptr<Connection> c, std::shared_ptr<Events> events) {
  const std::string chunk(8 * 1024, 'f');
  if (auto ec = c->write(chunk)) {
    events->add("write:" + ec.message());
    events->add(c->queued_output_bytes() <= kLimit ? "queue:bounded" : "queue:unbounded");
    c->abort();
    events->add(c->is_open() ? "open" : "dropped");
    return;
  }
  boost::asio::post(c->executor(), [c, events] { flood(c, events); });
}

ListenerOptions limited() {
  ListenerOptions o;
  o.connection.max_output_bytes = kLimit;
  return o;
}

TEST(SlowConsumer, PlaintextPeerThatNeverReadsIsDetected) {
  auto events = std::make_shared<Events>();
  Server server([events](std::shared_ptr<Connection> c) { flood(c, events); }, limited());
  RawClient raw(server.port(), /*rcvbuf=*/4096);
  ASSERT_TRUE(events->wait_for("write:" + make_error_code(errc::slow_consumer).message(), 10s));
  EXPECT_TRUE(events->wait_for("queue:bounded"));
  EXPECT_TRUE(events->wait_for("dropped"));
  EXPECT_TRUE(raw.closed_by_peer());
}

TEST(SlowConsumer, TlsPeerThatNeverReadsIsDetected) {
  auto ctx = std::make_shared<TlsContext>(server_context());
  auto events = std::make_shared<Events>();
  Server server(
      [ctx, events](std::shared_ptr<Connection> c) {
        c->start_tls(*ctx, [c, events](Connection::error_code ec) {
          if (!ec) flood(c, events);
        });
      },
      limited());
  TlsContext client = client_context();
  RawClient raw(server.port(), /*rcvbuf=*/4096);
  TlsClient tls(raw, client.native());
  ASSERT_EQ(tls.handshake(), "");
  ASSERT_TRUE(events->wait_for("write:" + make_error_code(errc::slow_consumer).message(), 10s));
  EXPECT_TRUE(events->wait_for("queue:bounded"));
}

}  // namespace
}  // namespace pimap::net::test
