#pragma once
// Where and how to reach Redis. Timeouts are never infinite: a Redis that stops answering must turn
// into an error in bounded time, not a hung worker thread.

#include <pimap/redis/result.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace pimap::redis {

struct Options {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // empty: no AUTH
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{2000};
  // Reconnect backoff: after a failed connect, no new attempt before backoff has passed; it doubles
  // per failure up to backoff_max and resets on success.
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
  std::chrono::milliseconds pool_wait{2000};  // how long Pool::acquire waits for a free connection
};

// Accepts "host:port", "host" (port 6379), "redis://[:password@]host[:port][/db]" and "[v6addr]:port",
// filling the address fields of `base` and keeping its timeouts.
Result<Options> parse_address(std::string_view address, Options base = {});

}  // namespace pimap::redis
