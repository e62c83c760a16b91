// STARTTLS: the same Connection goes from plaintext to TLS in place, and plaintext pipelined
// behind the STARTTLS command is never interpreted.

#include "support.hpp"

#include <pimap/net/error.hpp>

#include <gtest/gtest.h>

namespace pimap::net::test {
namespace {

// A tiny line protocol: "a STARTTLS" upgrades, any other line is recorded and echoed.
void serve_lines(std::shared_ptr<Connection> c, std::shared_ptr<TlsContext> ctx,
                 std::shared_ptr<Events> events) {
  c->async_read_some([c, ctx, events](Connection::error_code ec, std::span<const char> data) {
    if (ec) {
      events->add("error:" + ec.message());
      return std::size_t{0};
    }
    std::string_view input(data.data(), data.size());
    std::size_t consumed = 0;
    for (std::size_t eol; (eol = input.find("\r\n", consumed)) != std::string_view::npos;) {
      const std::string line(input.substr(consumed, eol - consumed));
      consumed = eol + 2;
      if (line == "a STARTTLS") {
        c->write("a OK Begin TLS negotiation now\r\n");
        c->start_tls(*ctx, [c, ctx, events](Connection::error_code tec) {
          events->add(tec ? "tls:" + tec.message() : "tls:ok");
          if (!tec) {
            events->add("security:" + security_name(c->security()));
            serve_lines(c, ctx, events);
          }
        });
        return consumed;  // whatever follows the command stays unconsumed: the connection decides
      }
      events->add("line:" + line);
      c->write(line + "\r\n");
    }
    serve_lines(c, ctx, events);
    return consumed;
  });
}

struct StartTlsServer {
  std::shared_ptr<TlsContext> ctx = std::make_shared<TlsContext>(server_context());
  std::shared_ptr<Events> events = std::make_shared<Events>();
  Server server{[ctx = ctx, events = events](std::shared_ptr<Connection> c) {
    c->write("* OK ready\r\n");
    serve_lines(c, ctx, events);
  }};
};

TEST(StartTls, UpgradesTheSameConnectionInPlace) {
  StartTlsServer s;
  RawClient raw(s.server.port());
  EXPECT_EQ(raw.recv_exact(12), "* OK ready\r\n");
  raw.send("x PLAIN\r\n");
  EXPECT_EQ(raw.recv_exact(9), "x PLAIN\r\n");
  raw.send("a STARTTLS\r\n");
  EXPECT_EQ(raw.recv_exact(32), "a OK Begin TLS negotiation now\r\n");

  TlsContext client = client_context();
  TlsClient tls(raw, client.native());
  ASSERT_EQ(tls.handshake(), "");
  ASSERT_TRUE(s.events->wait_for("tls:ok"));
  EXPECT_TRUE(s.events->wait_for("security:tls_lean"));
  tls.write("b SECRET\r\n");
  EXPECT_EQ(tls.read_exact(10), "b SECRET\r\n");
  EXPECT_TRUE(s.events->wait_for("line:b SECRET"));
}

TEST(StartTls, PipelinedPlaintextAfterStartTlsIsRefused) {
  StartTlsServer s;
  RawClient raw(s.server.port());
  EXPECT_EQ(raw.recv_exact(12), "* OK ready\r\n");
  // The classic injection: a command smuggled in the same packet as STARTTLS.
  raw.send("a STARTTLS\r\nb LOGIN victim password\r\n");
  EXPECT_TRUE(raw.closed_by_peer());
  EXPECT_TRUE(s.events->wait_for("tls:plaintext pipelined after STARTTLS"));
  for (const auto& e : s.events->all()) EXPECT_EQ(e.find("line:b"), std::string::npos) << e;
}

TEST(StartTls, PlaintextAfterStartTlsArrivingLaterFailsTheHandshake) {
  StartTlsServer s;
  RawClient raw(s.server.port());
  EXPECT_EQ(raw.recv_exact(12), "* OK ready\r\n");
  raw.send("a STARTTLS\r\n");
  EXPECT_EQ(raw.recv_exact(32), "a OK Begin TLS negotiation now\r\n");
  raw.send("b LOGIN victim password\r\n");  // read by the TLS handshake, never as a command
  EXPECT_TRUE(raw.closed_by_peer());
  ASSERT_TRUE(s.events->wait_for("tls:ok", 200ms) == false);
  for (const auto& e : s.events->all()) EXPECT_EQ(e.find("line:b"), std::string::npos) << e;
}

TEST(StartTls, StartTlsTwiceIsRefused) {
  auto ctx = std::make_shared<TlsContext>(server_context());
  auto events = std::make_shared<Events>();
  Server server([ctx, events](std::shared_ptr<Connection> c) {
    c->start_tls(*ctx, [c, ctx, events](Connection::error_code ec) {
      if (ec) return;
      c->start_tls(*ctx, [events](Connection::error_code again) {
        events->add("again:" + again.message());
      });
    });
  });
  TlsContext client = client_context();
  RawClient raw(server.port());
  TlsClient tls(raw, client.native());
  ASSERT_EQ(tls.handshake(), "");
  EXPECT_TRUE(events->wait_for("again:" + make_error_code(errc::bad_state).message()));
}

}  // namespace
}  // namespace pimap::net::test
