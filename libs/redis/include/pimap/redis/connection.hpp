#pragma once
// One blocking connection to Redis (hiredis 0.14), used by one thread at a time.
//
// Reconnects by itself: a broken connection is dropped and the next call connects again, but not
// sooner than the backoff allows, so a dead Redis costs each caller one fast "unavailable" error
// instead of a connect timeout per call. Commands are sent as argument vectors (binary safe, no
// format strings). Constructing a Connection ignores SIGPIPE process-wide if it is still at its
// default: hiredis writes with write(2), and a Redis that goes away must not kill the process.

#include <pimap/redis/options.hpp>
#include <pimap/redis/reply.hpp>
#include <pimap/redis/result.hpp>

#include <chrono>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;

namespace pimap::redis {

// Whether a command may be sent a second time when the connection turns out to have died while idle
// (typically: Redis restarted since the connection's last use). Only for commands whose repetition
// is harmless (reads, SET, idempotent scripts); a command that failed any other way is never resent.
enum class Retry { never, if_stale };

// A batch of commands written at once and answered in order (one round trip).
class Pipeline {
 public:
  Pipeline& add(std::initializer_list<std::string_view> args);
  Pipeline& add(std::vector<std::string> args);
  std::size_t size() const noexcept { return commands_.size(); }
  bool empty() const noexcept { return commands_.empty(); }
  const std::vector<std::vector<std::string>>& commands() const noexcept { return commands_; }

 private:
  std::vector<std::vector<std::string>> commands_;
};

class Connection {
 public:
  explicit Connection(Options options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;

  // An error reply from Redis comes back as ErrorKind::server.
  Result<Reply> command(std::span<const std::string_view> args, Retry retry = Retry::never);
  Result<Reply> command(std::initializer_list<std::string_view> args, Retry retry = Retry::never);
  Result<Reply> command(const std::vector<std::string>& args, Retry retry = Retry::never);

  // One reply per command, in order; error replies stay in the vector as Reply::Type::error (one bad
  // command does not hide the others' results). The Result fails only on connection trouble.
  Result<std::vector<Reply>> pipeline(const Pipeline& pipeline, Retry retry = Retry::never);

  // Connects now if not connected (honouring the backoff). Commands do this implicitly.
  Result<void> ensure_connected();
  bool connected() const noexcept { return ctx_ != nullptr; }
  // Drops the connection; the next command reconnects (without waiting for the backoff).
  void disconnect() noexcept;

  const Options& options() const noexcept { return options_; }

 private:
  using Clock = std::chrono::steady_clock;
  // Writes every command (a range of argument ranges), then reads one reply per command.
  template <class Commands>
  Result<std::vector<Reply>> exchange(const Commands& commands, Retry retry);
  Error connection_error(const char* what);

  Options options_;
  redisContext* ctx_ = nullptr;
  bool used_ = false;                      // at least one command succeeded on ctx_
  Clock::time_point next_attempt_{};       // backoff: no connect attempt before this
  std::chrono::milliseconds backoff_{0};
  std::string last_connect_error_;
};

}  // namespace pimap::redis
