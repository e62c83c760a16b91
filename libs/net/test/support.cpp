#include "support.hpp"

#include <pimap/net/error.hpp>

#include <openssl/err.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace pimap::net::test {

std::string run(const std::string& command, int* exit_status) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed: " + command);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  if (exit_status != nullptr) *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

const Pki& pki() {
  static const Pki generated = [] {
    char tmpl[] = "/tmp/pimap-net-pki-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    Pki p{tmpl, std::string(tmpl) + "/ca.crt", std::string(tmpl) + "/server.crt",
          std::string(tmpl) + "/server.key"};
    const std::string d = p.dir;
    const std::string script =
        "cd " + d + " && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
        "-out ca.crt -days 2 -subj /CN=pimap-test-ca "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
        "-out server.csr -subj /CN=localhost && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > ext && "
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile ext -out server.crt 2>&1";
    int status = 0;
    const std::string out = run(script, &status);
    if (status != 0) throw std::runtime_error("PKI generation failed: " + out);
    return p;
  }();
  return generated;
}

TlsContext server_context(bool lean) {
  ServerTlsOptions o;
  o.cert_chain_file = pki().server_cert;
  o.key_file = pki().server_key;
  o.lean_records = lean;
  return TlsContext::server(o);
}

TlsContext client_context() {
  ClientTlsOptions o;
  o.ca_file = pki().ca_cert;
  return TlsContext::client(o);
}

void Events::add(std::string event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

bool Events::wait_for(const std::string& event, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] {
    for (const auto& e : events_)
      if (e == event) return true;
    return false;
  });
}

std::vector<std::string> Events::all() {
  std::lock_guard lock(mutex_);
  return events_;
}

Server::Server(Listener::AcceptHandler handler, ListenerOptions options) {
  listener_ = Listener::create(pool_, std::move(options), std::move(handler));
  listener_->start();
  pool_.start();
}

Server::~Server() {
  listener_->stop_accepting();
  pool_.stop();
  pool_.join();
}

std::string security_name(Security s) {
  switch (s) {
    case Security::plaintext: return "plaintext";
    case Security::tls_handshake: return "tls_handshake";
    case Security::tls_openssl: return "tls_openssl";
    case Security::tls_lean: return "tls_lean";
  }
  return "?";
}

namespace {
void echo_loop(std::shared_ptr<Connection> c, std::shared_ptr<Events> events) {
  c->async_read_some([c, events](Connection::error_code ec, std::span<const char> data) {
    if (ec) {
      events->add(ec == boost::asio::error::eof ? "eof" : "error:" + ec.message());
      if (ec == boost::asio::error::eof) c->close();
      return std::size_t{0};
    }
    if (auto wec = c->write(std::string_view(data.data(), data.size()))) {
      events->add("write:" + wec.message());
      c->abort();
      return data.size();
    }
    echo_loop(c, events);
    return data.size();
  });
}
}  // namespace

void echo(std::shared_ptr<Connection> connection, std::shared_ptr<Events> events) {
  echo_loop(std::move(connection), std::move(events));
}

RawClient::RawClient(std::uint16_t port, int rcvbuf) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect failed");
}

RawClient::~RawClient() { ::close(fd_); }

namespace {
void set_timeout(int fd, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}
}  // namespace

void RawClient::send(const std::string& bytes) {
  set_timeout(fd_, 5s);
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed");
    off += static_cast<std::size_t>(n);
  }
}

std::string RawClient::recv_some(std::chrono::milliseconds timeout, std::size_t max) {
  set_timeout(fd_, timeout);
  std::string buf(max, '\0');
  const ssize_t n = ::recv(fd_, buf.data(), max, 0);
  buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return buf;
}

std::string RawClient::recv_exact(std::size_t n, std::chrono::milliseconds timeout) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    std::string part = recv_some(100ms, n - out.size());
    out += part;
  }
  return out;
}

bool RawClient::closed_by_peer(std::chrono::milliseconds timeout) {
  set_timeout(fd_, timeout);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

TlsClient::TlsClient(RawClient& raw, SSL_CTX* ctx, const std::string& server_name) : raw_(raw) {
  ssl_ = SSL_new(ctx);
  SSL_set_fd(ssl_, raw.fd());
  if (!server_name.empty()) {
    SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(server_name.c_str()));
    SSL_set1_host(ssl_, server_name.c_str());
  }
}

TlsClient::~TlsClient() { SSL_free(ssl_); }

std::string TlsClient::handshake(std::chrono::milliseconds timeout) {
  set_timeout(raw_.fd(), timeout);
  ERR_clear_error();
  if (SSL_connect(ssl_) == 1) return "";
  char reason[256] = "handshake failed";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, reason, sizeof reason);
  return reason;
}

void TlsClient::write(const std::string& bytes) {
  set_timeout(raw_.fd(), 5s);
  std::size_t off = 0;
  while (off < bytes.size()) {
    const int n = SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off));
    if (n <= 0) throw std::runtime_error("SSL_write failed");
    off += static_cast<std::size_t>(n);
  }
}

std::string TlsClient::read_exact(std::size_t n, std::chrono::milliseconds timeout) {
  set_timeout(raw_.fd(), timeout);
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const int r = SSL_read(ssl_, out.data() + got, static_cast<int>(n - got));
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

bool TlsClient::closed_by_peer(std::chrono::milliseconds timeout) {
  set_timeout(raw_.fd(), timeout);
  char buf[4096];
  for (;;) {
    const int r = SSL_read(ssl_, buf, sizeof buf);
    if (r > 0) continue;
    const int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_ZERO_RETURN) return true;
    if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_SSL)
      return errno != EAGAIN && errno != EWOULDBLOCK;
    return false;
  }
}

}  // namespace pimap::net::test
