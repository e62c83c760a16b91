// What must fail does: wrong host names, untrusted chains, tampered records, renegotiation.

#include "support.hpp"

#include <pimap/net/error.hpp>

#include <gtest/gtest.h>

#include <openssl/err.h>

namespace pimap::net::test {
namespace {

std::shared_ptr<Events> tls_echo_server(std::unique_ptr<Server>& server) {
  auto ctx = std::make_shared<TlsContext>(server_context());
  auto events = std::make_shared<Events>();
  server = std::make_unique<Server>([ctx, events](std::shared_ptr<Connection> c) {
    c->start_tls(*ctx, [c, events](Connection::error_code ec) {
      if (ec) return events->add("tls:" + ec.message());
      events->add("security:" + security_name(c->security()));
      echo(c, events);
    });
  });
  return events;
}

std::string client_handshake(std::uint16_t port, const TlsContext& client, const std::string& name) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  auto c = Connection::create(std::move(socket));
  std::string result = "pending";
  c->start_tls(client, [&](Connection::error_code ec) {
    result = ec ? std::string(ec.category().name()) + ": " + ec.message() : "ok";
  }, name);
  io.run_for(5s);
  return result;
}

TEST(TlsFailure, HostnameMismatchIsRejectedByTheClientContext) {
  std::unique_ptr<Server> server;
  auto events = tls_echo_server(server);
  TlsContext client = client_context();
  EXPECT_EQ(client_handshake(server->port(), client, "localhost"), "ok");
  const std::string wrong = client_handshake(server->port(), client, "mail.example.org");
  EXPECT_NE(wrong.find("pimap.tls"), std::string::npos) << wrong;
  EXPECT_NE(wrong.find("certificate verify failed"), std::string::npos) << wrong;
  // IP addresses are verified against the IP SAN, not a DNS name.
  EXPECT_EQ(client_handshake(server->port(), client, "127.0.0.1"), "ok");
  EXPECT_NE(client_handshake(server->port(), client, "127.0.0.2").find("certificate verify failed"),
            std::string::npos);
}

TEST(TlsFailure, UntrustedChainIsRejected) {
  std::unique_ptr<Server> server;
  auto events = tls_echo_server(server);
  ClientTlsOptions o;  // system roots only: the test CA is unknown
  TlsContext client = TlsContext::client(o);
  EXPECT_NE(client_handshake(server->port(), client, "localhost").find("certificate verify failed"),
            std::string::npos);
}

TEST(TlsFailure, TamperedRecordAbortsWithBadRecordMacAlert) {
  std::unique_ptr<Server> server;
  auto events = tls_echo_server(server);
  TlsContext client = client_context();
  RawClient raw(server->port());
  TlsClient tls(raw, client.native());
  ASSERT_EQ(tls.handshake(), "");
  tls.write("fine");
  ASSERT_EQ(tls.read_exact(4), "fine");
  // An application-data record whose tag cannot verify.
  std::string forged("\x17\x03\x03\x00\x20", 5);
  forged += std::string(32, '\x5a');
  raw.send(forged);
  EXPECT_TRUE(events->wait_for("error:" + make_error_code(errc::tls_protocol).message()));
  ERR_clear_error();
  EXPECT_EQ(tls.read_exact(1), "");
  char reason[256] = "";
  ERR_error_string_n(ERR_peek_last_error(), reason, sizeof reason);
  EXPECT_NE(std::string(reason).find("bad record mac"), std::string::npos) << reason;
}

TEST(TlsFailure, Tls12RenegotiationIsRefused) {
  std::unique_ptr<Server> server;
  auto events = tls_echo_server(server);
  TlsContext client = client_context();
  SSL_CTX_set_max_proto_version(client.native(), TLS1_2_VERSION);
  SSL_CTX_clear_options(client.native(), SSL_OP_NO_RENEGOTIATION);
  RawClient raw(server->port());
  TlsClient tls(raw, client.native());
  ASSERT_EQ(tls.handshake(), "");
  tls.write("before");
  ASSERT_EQ(tls.read_exact(6), "before");
  ASSERT_EQ(SSL_renegotiate(tls.ssl()), 1);
  EXPECT_NE(SSL_do_handshake(tls.ssl()), 1);
  EXPECT_TRUE(events->wait_for("error:" + make_error_code(errc::tls_protocol).message()));
}

}  // namespace
}  // namespace pimap::net::test
