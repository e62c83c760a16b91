#pragma once
// A deliberately dumb HTTP/1.1 client over a blocking POSIX socket, for talking to the admin server the
// way Prometheus and the kubelet do, without pulling Beast into the tests.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace pimap::kit::test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Throws std::runtime_error when 127.0.0.1:port cannot be reached or the answer is not HTTP.
HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view path,
                          std::chrono::milliseconds timeout = std::chrono::seconds(3));
inline HttpResponse http_get(std::uint16_t port, std::string_view path) { return http_request(port, "GET", path); }

}  // namespace pimap::kit::test
