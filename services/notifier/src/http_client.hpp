#pragma once
// A minimal blocking HTTP/1.1 client for the wake-up gateways (Kannel sendsms and PPG): plain HTTP
// (Kannel speaks no TLS here), one request per connection (`Connection: close`), every step bounded
// by one deadline. Enough for two small request shapes; not a general client.

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pimap::notifier {

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // http://host[:port]/path[?query]
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResult {
  bool ok = false;      // a complete response arrived (whatever its status)
  std::string error;    // transport failure when !ok: resolve, connect, timeout, malformed response
  int status = 0;
  std::string body;
};

// The seam tests replace: the sender only needs "send this, tell me what came back".
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual HttpResult send(const HttpRequest& request) = 0;
};

struct ParsedUrl {
  std::string host;
  std::string port = "80";
  std::string target = "/";  // path + query
};
// Only http:// URLs; empty host means invalid.
ParsedUrl parse_http_url(std::string_view url);

// Raw sockets with poll(2) timeouts. Thread-compatible (one request at a time per caller).
class SocketHttpClient final : public HttpTransport {
 public:
  explicit SocketHttpClient(std::chrono::milliseconds timeout) : timeout_(timeout) {}
  HttpResult send(const HttpRequest& request) override;

 private:
  std::chrono::milliseconds timeout_;
};

// Percent-encoding for query values (RFC 3986 unreserved kept as is).
std::string url_encode(std::string_view s);

// Exposed for tests: parses a complete raw response (status line, headers, body by Content-Length,
// chunked coding, or up to the end of the data).
HttpResult parse_response(std::string_view raw);

}  // namespace pimap::notifier
