#pragma once
// Test fixture helper: a real, throw-away redis-server on a free loopback port in a temporary
// directory, without persistence. Started and killed by PID; the directory is removed at the end.

#include <pimap/redis/options.hpp>

#include <string>
#include <sys/types.h>

namespace pimap::redis::testing {

class RedisServer {
 public:
  // Starts at once and waits until it answers PING (up to 10 s); throws std::runtime_error otherwise.
  RedisServer();
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void stop();     // SIGKILL (what a crash looks like) and reap
  void start();    // again on the same port, empty (no persistence)
  void restart() { stop(); start(); }
  bool running() const noexcept { return pid_ > 0; }

  int port() const noexcept { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Short timeouts so that tests about outages do not take long.
  Options options() const;

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace pimap::redis::testing
