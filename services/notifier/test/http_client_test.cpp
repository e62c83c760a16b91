#include "http_client.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

namespace pimap::notifier {
namespace {

using namespace std::chrono_literals;

TEST(HttpUrl, Parses) {
  auto u = parse_http_url("http://127.0.0.1:13013/cgi-bin/sendsms?x=1");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "13013");
  EXPECT_EQ(u.target, "/cgi-bin/sendsms?x=1");
  u = parse_http_url("http://kannel");
  EXPECT_EQ(u.host, "kannel");
  EXPECT_EQ(u.port, "80");
  EXPECT_EQ(u.target, "/");
  u = parse_http_url("http://[::1]:8080/wappush");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, "8080");
  EXPECT_TRUE(parse_http_url("https://x/").host.empty());
  EXPECT_TRUE(parse_http_url("http://user:pw@x/").host.empty());
  EXPECT_TRUE(parse_http_url("http://x:port/").host.empty());
}

TEST(HttpResponse, ContentLengthChunkedAndEof) {
  auto r = parse_response("HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\n0: Acxx");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "0: Ac");
  r = parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "abcde");
  r = parse_response("HTTP/1.0 503 Service Unavailable\r\n\r\nSending failed");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "Sending failed");
  r = parse_response("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").ok);
  EXPECT_FALSE(parse_response("SMTP 220 hello\r\n\r\n").ok);
  EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").ok);
}

// A one-shot server on an ephemeral loopback port: reads the request, then runs `respond`.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<void(int fd, const std::string& request)> respond) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 1);
    thread_ = std::thread([this, respond] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        const auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      // The body, if any, by Content-Length.
      const auto cl = req.find("Content-Length: ");
      if (cl != std::string::npos) {
        const std::size_t want = std::stoul(req.substr(cl + 16));
        while (req.size() - req.find("\r\n\r\n") - 4 < want) {
          const auto n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          req.append(buf, static_cast<std::size_t>(n));
        }
      }
      request = req;
      respond(c, req);
      ::close(c);
    });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::string request;

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

void write_all(int fd, const std::string& s) { static_cast<void>(::send(fd, s.data(), s.size(), MSG_NOSIGNAL)); }

TEST(SocketHttpClient, PostsAndReadsTheResponse) {
  OneShotServer server([](int fd, const std::string&) {
    write_all(fd, "HTTP/1.1 202 Accepted\r\nContent-Type: application/xml\r\nContent-Length: 11\r\n\r\ncode=\"1001\"");
  });
  SocketHttpClient client(2s);
  HttpRequest req;
  req.method = "POST";
  req.url = server.url("/wappush");
  req.headers.emplace_back("Content-Type", "multipart/related; boundary=B");
  req.body = std::string("bin\0ary\r\n", 9);
  const auto r = client.send(req);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "code=\"1001\"");
  EXPECT_TRUE(server.request.starts_with("POST /wappush HTTP/1.1\r\n"));
  EXPECT_NE(server.request.find("Content-Length: 9\r\n"), std::string::npos);
  EXPECT_NE(server.request.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(server.request.ends_with(std::string("\r\n\r\nbin\0ary\r\n", 13)));
}

TEST(SocketHttpClient, TimesOutOnASilentServer) {
  OneShotServer server([](int, const std::string&) { std::this_thread::sleep_for(1500ms); });
  SocketHttpClient client(300ms);
  const auto start = std::chrono::steady_clock::now();
  const auto r = client.send({"GET", server.url("/"), {}, {}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1200ms);
}

TEST(SocketHttpClient, ConnectionRefusedIsATransportError) {
  int port = 0;
  {
    // A port that was just free: nothing listens there now.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    ::close(fd);
  }
  SocketHttpClient client(1s);
  const auto r = client.send({"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, {}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("connect"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace pimap::notifier
