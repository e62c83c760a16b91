#pragma once
// Test fixtures for libs/net: a throwaway PKI made with the openssl CLI, a server on an IoPool,
// and blocking clients (plain socket and OpenSSL) that play the peer from the test thread.

#include <pimap/net/connection.hpp>
#include <pimap/net/io_pool.hpp>
#include <pimap/net/listener.hpp>
#include <pimap/net/tls_context.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pimap::net::test {

using namespace std::chrono_literals;

struct Pki {
  std::string dir;
  std::string ca_cert;      // trusted root
  std::string server_cert;  // CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  std::string server_key;
};
// Generated once per process in a fresh temp dir.
const Pki& pki();

TlsContext server_context(bool lean = true);
TlsContext client_context();

// Thread-safe log of what the server side saw, for the test thread to wait on.
class Events {
 public:
  void add(std::string event);
  bool wait_for(const std::string& event, std::chrono::milliseconds timeout = 5s);
  std::vector<std::string> all();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

// A Listener on a one-thread IoPool; stops and joins on destruction.
class Server {
 public:
  Server(Listener::AcceptHandler handler, ListenerOptions options = {});
  ~Server();
  std::uint16_t port() const { return listener_->port(); }
  Listener& listener() { return *listener_; }
  IoPool& pool() { return pool_; }

 private:
  IoPool pool_{1};
  std::shared_ptr<Listener> listener_;
};

// Echoes everything it reads; records "security:<mode>" once TLS is up, "error:<message>" and
// "eof" on the way out.
void echo(std::shared_ptr<Connection> connection, std::shared_ptr<Events> events);
std::string security_name(Security s);

class RawClient {
 public:
  explicit RawClient(std::uint16_t port, int rcvbuf = 0);
  ~RawClient();
  int fd() const { return fd_; }
  void send(const std::string& bytes);
  // Up to `max` bytes, "" on EOF/reset or timeout.
  std::string recv_some(std::chrono::milliseconds timeout = 5s, std::size_t max = 65536);
  std::string recv_exact(std::size_t n, std::chrono::milliseconds timeout = 5s);
  // True once the server closed (EOF or reset) within the timeout.
  bool closed_by_peer(std::chrono::milliseconds timeout = 5s);

 private:
  int fd_ = -1;
};

// Blocking OpenSSL client over a RawClient's socket.
class TlsClient {
 public:
  TlsClient(RawClient& raw, SSL_CTX* ctx, const std::string& server_name = "localhost");
  ~TlsClient();
  SSL* ssl() { return ssl_; }
  // "" on success, else OpenSSL's reason.
  std::string handshake(std::chrono::milliseconds timeout = 5s);
  void write(const std::string& bytes);
  std::string read_exact(std::size_t n, std::chrono::milliseconds timeout = 5s);
  // True once a read ends with close_notify or EOF.
  bool closed_by_peer(std::chrono::milliseconds timeout = 5s);

 private:
  RawClient& raw_;
  SSL* ssl_ = nullptr;
};

// Runs a shell command with a time bound; returns its stdout.
std::string run(const std::string& command, int* exit_status = nullptr);

}  // namespace pimap::net::test
