#pragma once
// One HTTP/1.1 connection of the HTTPS binding (profile §10): reads requests with Boost.Beast's
// parser over a net::Connection (TLS with lean records, so a connection waiting in a long-lived
// response holds no OpenSSL object and no read buffer), classifies them (https_request.hpp) and runs
// them on the device's Session (https_session.hpp).
//
// Slow clients: a request must arrive whole (head and, in in-response mode, body) within
// request_timeout of its first byte, else 408 and the connection closes; a connection waiting for its
// next request is closed after keepalive_timeout. Other connections are served meanwhile (everything
// is asynchronous on the binding's io_context).
//
// Beast's templates are instantiated in https_connection.cpp only.

#include "https_request.hpp"
#include "https_session.hpp"

#include <pimap/kit/log.hpp>
#include <pimap/net/connection.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace pimap::edge {
struct FrontContext;
}

namespace pimap::edge::https {

struct HttpOptions {
  std::string path = "/pimap";
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds keepalive_timeout{60'000};
  std::size_t max_header_bytes = 8 * 1024;
};

// Shared by every connection of the binding; outlives them.
struct BindingContext {
  HttpOptions http;
  SessionOptions session;
  std::shared_ptr<const FrontContext> front;
  Registry* registry = nullptr;
  const kit::Logger* log = nullptr;
};

void serve_http(std::shared_ptr<net::Connection> conn, std::shared_ptr<const BindingContext> ctx);

}  // namespace pimap::edge::https
