// TLS round trips against the lean server records, judged by OpenSSL clients (our client
// context and raw SSL objects), Python's ssl module and `openssl s_client`.

#include "support.hpp"

#include <pimap/net/error.hpp>

#include <gtest/gtest.h>

#include <openssl/ssl.h>

#include <string>

namespace pimap::net::test {
namespace {

struct Suite {
  const char* name;
  int max_version;
  const char* tls12_cipher;  // for TLS 1.2
  const char* tls13_suite;   // for TLS 1.3
};

class TlsEcho : public ::testing::TestWithParam<Suite> {};

TEST_P(TlsEcho, RoundTripsOverLeanRecords) {
  const Suite suite = GetParam();
  auto ctx = std::make_shared<TlsContext>(server_context());
  auto events = std::make_shared<Events>();
  Server server([ctx, events](std::shared_ptr<Connection> c) {
    c->start_tls(*ctx, [c, events](Connection::error_code ec) {
      if (ec) return events->add("tls:" + ec.message());
      events->add("security:" + security_name(c->security()));
      echo(c, events);
    });
  });

  TlsContext client = client_context();
  SSL_CTX_set_max_proto_version(client.native(), suite.max_version);
  if (suite.tls12_cipher) {
    ASSERT_EQ(SSL_CTX_set_cipher_list(client.native(), suite.tls12_cipher), 1);
  }
  if (suite.tls13_suite) {
    ASSERT_EQ(SSL_CTX_set_ciphersuites(client.native(), suite.tls13_suite), 1);
  }

  RawClient raw(server.port());
  TlsClient tls(raw, client.native());
  ASSERT_EQ(tls.handshake(), "");
  ASSERT_TRUE(events->wait_for("security:tls_lean"));
  EXPECT_EQ(SSL_version(tls.ssl()), suite.max_version);

  tls.write("hello");
  EXPECT_EQ(tls.read_exact(5), "hello");
  // Several full-size records in each direction, in chunks the 256 KiB output bound allows.
  std::string big(200 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  for (int round = 0; round < 3; ++round) {
    tls.write(big);
    ASSERT_EQ(tls.read_exact(big.size()), big) << "round " << round;
  }
  tls.write("bye");
  EXPECT_EQ(tls.read_exact(3), "bye");
}

INSTANTIATE_TEST_SUITE_P(
    Suites, TlsEcho,
    ::testing::Values(Suite{"tls13_aes128", TLS1_3_VERSION, nullptr, "TLS_AES_128_GCM_SHA256"},
                      Suite{"tls13_aes256", TLS1_3_VERSION, nullptr, "TLS_AES_256_GCM_SHA384"},
                      Suite{"tls13_chacha", TLS1_3_VERSION, nullptr, "TLS_CHACHA20_POLY1305_SHA256"},
                      Suite{"tls12_aes128", TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", nullptr},
                      Suite{"tls12_aes256", TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", nullptr},
                      Suite{"tls12_chacha", TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", nullptr}),
    [](const auto& p) { return std::string(p.param.name); });

std::shared_ptr<Events> start_echo_server(std::unique_ptr<Server>& server, bool lean = true) {
  auto ctx = std::make_shared<TlsContext>(server_context(lean));
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

TEST(Tls, KeyUpdateRequestedByClientIsAnswered) {
  std::unique_ptr<Server> server;
  auto events = start_echo_server(server);
  TlsContext client = client_context();
  RawClient raw(server->port());
  TlsClient tls(raw, client.native());
  ASSERT_EQ(tls.handshake(), "");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(SSL_key_update(tls.ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
    tls.write("after update " + std::to_string(i));
    EXPECT_EQ(tls.read_exact(14), "after update " + std::to_string(i));
  }
  EXPECT_TRUE(events->wait_for("security:tls_lean"));
}

TEST(Tls, ResumedSessionStillRunsLean) {
  std::unique_ptr<Server> server;
  auto events = start_echo_server(server);
  TlsContext client = client_context();
  SSL_SESSION* session = nullptr;
  {
    RawClient raw(server->port());
    TlsClient tls(raw, client.native());
    ASSERT_EQ(tls.handshake(), "");
    tls.write("one");
    ASSERT_EQ(tls.read_exact(3), "one");  // the ticket arrived before the echo
    session = SSL_get1_session(tls.ssl());
    ASSERT_NE(session, nullptr);
    SSL_shutdown(tls.ssl());  // OpenSSL marks sessions of unclosed connections not resumable
  }
  RawClient raw(server->port());
  TlsClient tls(raw, client.native());
  SSL_set_session(tls.ssl(), session);
  SSL_SESSION_free(session);
  ASSERT_EQ(tls.handshake(), "");
  EXPECT_EQ(SSL_session_reused(tls.ssl()), 1);
  tls.write("two");
  EXPECT_EQ(tls.read_exact(3), "two");
}

TEST(Tls, WithoutLeanRecordsOpenSslCarriesTheConnection) {
  std::unique_ptr<Server> server;
  auto events = start_echo_server(server, /*lean=*/false);
  TlsContext client = client_context();
  RawClient raw(server->port());
  TlsClient tls(raw, client.native());
  ASSERT_EQ(tls.handshake(), "");
  ASSERT_TRUE(events->wait_for("security:tls_openssl"));
  tls.write(std::string(100000, 'z'));
  EXPECT_EQ(tls.read_exact(100000), std::string(100000, 'z'));
}

TEST(Tls, GracefulCloseSendsCloseNotify) {
  auto ctx = std::make_shared<TlsContext>(server_context());
  Server server([ctx](std::shared_ptr<Connection> c) {
    c->start_tls(*ctx, [c](Connection::error_code ec) {
      if (ec) return;
      c->write("bye\r\n");
      c->close();
    });
  });
  TlsContext client = client_context();
  RawClient raw(server.port());
  TlsClient tls(raw, client.native());
  ASSERT_EQ(tls.handshake(), "");
  EXPECT_EQ(tls.read_exact(5), "bye\r\n");
  EXPECT_TRUE(tls.closed_by_peer());
  EXPECT_TRUE(SSL_get_shutdown(tls.ssl()) & SSL_RECEIVED_SHUTDOWN);
}

TEST(Tls, ClientRoleConnectionVerifiesAndEchoes) {
  std::unique_ptr<Server> server;
  auto events = start_echo_server(server);
  TlsContext client = client_context();

  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server->port()});
  auto c = Connection::create(std::move(socket));
  std::string received;
  std::string tls_result = "pending";
  c->start_tls(client, [&](Connection::error_code ec) {
    tls_result = ec ? ec.message() : "ok";
    if (ec) return;
    ASSERT_FALSE(c->write("ping from a net::Connection"));
    std::function<void()> read = [&] {
      c->async_read_some([&](Connection::error_code rec, std::span<const char> data) {
        if (rec) return std::size_t{0};
        received.append(data.data(), data.size());
        if (received.size() < 27) read();
        else c->close();
        return data.size();
      });
    };
    read();
  }, "localhost");
  io.run_for(5s);
  EXPECT_EQ(tls_result, "ok");
  EXPECT_EQ(received, "ping from a net::Connection");
  EXPECT_EQ(c->security(), Security::tls_openssl);  // the client role keeps OpenSSL
  EXPECT_EQ(c->stats().bytes_in, 27u);
  EXPECT_EQ(c->stats().bytes_out, 27u);
}

TEST(TlsJudges, PythonSslClientRoundTripAndCloseNotify) {
  std::unique_ptr<Server> server;
  auto events = start_echo_server(server);
  const std::string script =
      "import socket,ssl,sys\n"
      "ctx=ssl.create_default_context(cafile=sys.argv[2])\n"
      "for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):\n"
      "  ctx.maximum_version=v\n"
      "  s=ctx.wrap_socket(socket.create_connection(('127.0.0.1',int(sys.argv[1]))),server_hostname='localhost')\n"
      "  data=bytes(range(256))*800\n"
      "  s.sendall(data)\n"
      "  got=b''\n"
      "  while len(got)<len(data):\n"
      "    chunk=s.recv(65536)\n"
      "    if not chunk: break\n"
      "    got+=chunk\n"
      "  s=s.unwrap()\n"  // sends close_notify and waits for the server's
      "  print(s and 'unwrapped', got==data, ctx.maximum_version.name)\n";
  int status = 0;
  const std::string out = run("timeout 30 python3 -c \"$(cat <<'PY'\n" + script + "PY\n)\" " +
                                  std::to_string(server->port()) + " " + pki().ca_cert + " 2>&1",
                              &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "unwrapped True TLSv1_2\nunwrapped True TLSv1_3\n");
  EXPECT_TRUE(events->wait_for("eof"));  // Python's close_notify reached the consumer as EOF
  for (const auto& e : events->all()) EXPECT_NE(e, "security:tls_openssl");
}

TEST(TlsJudges, OpensslSClientRoundTrip) {
  std::unique_ptr<Server> server;
  auto events = start_echo_server(server);
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    int status = 0;
    const std::string out =
        run("(printf 'ping-from-s_client\\n'; sleep 1) | timeout 10 openssl s_client -quiet "
            "-no_ign_eof " + std::string(version) + " -verify_return_error -CAfile " + pki().ca_cert +
                " -servername localhost -verify_hostname localhost -connect 127.0.0.1:" +
                std::to_string(server->port()) + " 2>/dev/null",
            &status);
    EXPECT_EQ(out, "ping-from-s_client\n") << version;
  }
  EXPECT_TRUE(events->wait_for("security:tls_lean"));
  for (const auto& e : events->all()) EXPECT_NE(e, "security:tls_openssl");
}

}  // namespace
}  // namespace pimap::net::test
