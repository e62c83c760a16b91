#include "http_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

namespace pimap::notifier {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Returns the decoded body, or nullopt while the chunked data is incomplete or malformed.
std::optional<std::string> dechunk(std::string_view data, bool* malformed) {
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    const auto eol = data.find("\r\n", pos);
    if (eol == std::string_view::npos) return std::nullopt;
    std::size_t size = 0;
    std::string_view line = data.substr(pos, eol - pos);
    line = line.substr(0, line.find(';'));
    line = trim(line);
    if (line.empty()) {
      *malformed = true;
      return std::nullopt;
    }
    for (char c : line) {
      const int v = (c >= '0' && c <= '9') ? c - '0' : (lower(c) >= 'a' && lower(c) <= 'f') ? lower(c) - 'a' + 10 : -1;
      if (v < 0 || size > (1u << 24)) {
        *malformed = true;
        return std::nullopt;
      }
      size = size * 16 + static_cast<std::size_t>(v);
    }
    pos = eol + 2;
    if (size == 0) return out;  // trailers ignored
    if (data.size() < pos + size + 2) return std::nullopt;
    out.append(data.substr(pos, size));
    pos += size + 2;
  }
}

// nullopt: incomplete. Sets error on a malformed response.
std::optional<HttpResult> try_parse(std::string_view raw, bool at_eof) {
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (at_eof) return HttpResult{false, "connection closed before the response headers ended", 0, {}};
    return std::nullopt;
  }
  const std::string_view head = raw.substr(0, head_end);
  const std::string_view body = raw.substr(head_end + 4);
  const auto line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12)
    return HttpResult{false, "malformed status line", 0, {}};
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (status_line[i] < '0' || status_line[i] > '9') return HttpResult{false, "malformed status code", 0, {}};
    status = status * 10 + (status_line[i] - '0');
  }
  std::optional<std::size_t> content_length;
  bool chunked = false;
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    const std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto name = trim(line.substr(0, colon));
    const auto value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::size_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return HttpResult{false, "malformed Content-Length", 0, {}};
        n = n * 10 + static_cast<std::size_t>(c - '0');
      }
      content_length = n;
    } else if (iequals(name, "transfer-encoding") && value.find("chunked") != std::string_view::npos) {
      chunked = true;
    }
  }
  if (status >= 100 && status < 200) {
    // Interim response (100 Continue): the real one follows.
    auto rest = try_parse(body, at_eof);
    return rest;
  }
  if (chunked) {
    bool malformed = false;
    auto decoded = dechunk(body, &malformed);
    if (malformed) return HttpResult{false, "malformed chunked body", 0, {}};
    if (!decoded) {
      if (at_eof) return HttpResult{false, "connection closed inside a chunked body", 0, {}};
      return std::nullopt;
    }
    return HttpResult{true, {}, status, std::move(*decoded)};
  }
  if (content_length) {
    if (body.size() < *content_length) {
      if (at_eof) return HttpResult{false, "connection closed before the body ended", 0, {}};
      return std::nullopt;
    }
    return HttpResult{true, {}, status, std::string(body.substr(0, *content_length))};
  }
  if (status == 204 || status == 304) return HttpResult{true, {}, status, {}};
  if (!at_eof) return std::nullopt;
  return HttpResult{true, {}, status, std::string(body)};
}

}  // namespace

ParsedUrl parse_http_url(std::string_view url) {
  ParsedUrl out;
  constexpr std::string_view scheme = "http://";
  if (url.size() <= scheme.size() || !iequals(url.substr(0, scheme.size()), scheme)) return {};
  url.remove_prefix(scheme.size());
  const auto slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    out.target = std::string(url.substr(slash));
    if (out.target.front() == '?') out.target.insert(0, "/");
  }
  if (authority.find('@') != std::string_view::npos) return {};  // no credentials in gateway URLs
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return {};
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.starts_with(":")) out.port = std::string(authority.substr(1));
    else if (!authority.empty()) return {};
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.port.empty() || out.port.find_first_not_of("0123456789") != std::string::npos) return {};
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0x0F];
    }
  }
  return out;
}

HttpResult parse_response(std::string_view raw) {
  auto r = try_parse(raw, true);
  return r ? *r : HttpResult{false, "incomplete response", 0, {}};
}

HttpResult SocketHttpClient::send(const HttpRequest& request) {
  const auto deadline = Clock::now() + timeout_;
  const ParsedUrl url = parse_http_url(request.url);
  if (url.host.empty()) return {false, "not an http:// URL", 0, {}};

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found); rc != 0)
    return {false, std::string("resolve ") + url.host + ": " + ::gai_strerror(rc), 0, {}};
  std::optional<Socket> sock;
  std::string connect_error = "no address";
  for (addrinfo* a = found; a != nullptr && !sock; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    Socket s(fd);
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno != EINPROGRESS) {
      connect_error = std::strerror(errno);
      continue;
    }
    if (rc != 0) {
      if (!wait_for(fd, POLLOUT, deadline)) {
        connect_error = "connect timed out";
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        connect_error = std::strerror(err);
        continue;
      }
    }
    sock.emplace(s.release());
  }
  ::freeaddrinfo(found);
  if (!sock) return {false, "connect " + url.host + ":" + url.port + ": " + connect_error, 0, {}};

  std::string out = request.method + " " + url.target + " HTTP/1.1\r\nHost: " + url.host +
                    (url.port == "80" ? "" : ":" + url.port) + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : request.headers) out += k + ": " + v + "\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT")
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  out += "\r\n";
  out += request.body;

  std::size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(sock->fd(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(sock->fd(), POLLOUT, deadline)) return {false, "timed out sending the request", 0, {}};
      continue;
    }
    return {false, std::string("send: ") + std::strerror(errno), 0, {}};
  }

  std::string in;
  char buf[4096];
  for (;;) {
    if (auto r = try_parse(in, false)) return *r;
    if (in.size() > (1u << 20)) return {false, "response larger than 1 MiB", 0, {}};
    if (!wait_for(sock->fd(), POLLIN, deadline)) return {false, "timed out waiting for the response", 0, {}};
    const ssize_t n = ::recv(sock->fd(), buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return parse_response(in);
    } else if (errno != EINTR && errno != EAGAIN) {
      return {false, std::string("recv: ") + std::strerror(errno), 0, {}};
    }
  }
}

}  // namespace pimap::notifier
