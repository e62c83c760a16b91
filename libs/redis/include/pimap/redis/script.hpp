#pragma once
// A Lua script run with EVALSHA, falling back to EVAL when Redis does not know it (first use, or
// after a Redis restart flushed the script cache). Scripts are how multi-step updates stay atomic.

#include <pimap/redis/connection.hpp>

#include <span>
#include <string>
#include <string_view>

namespace pimap::redis {

class Script {
 public:
  explicit Script(std::string source);

  Result<Reply> run(Connection& conn, std::span<const std::string_view> keys,
                    std::span<const std::string_view> args, Retry retry = Retry::never) const;
  Result<Reply> run(Connection& conn, std::initializer_list<std::string_view> keys,
                    std::initializer_list<std::string_view> args, Retry retry = Retry::never) const {
    return run(conn, std::span(keys.begin(), keys.size()), std::span(args.begin(), args.size()), retry);
  }

  // Pipelined use: add() queues one EVALSHA of this script; run_pipeline() sends a pipeline of them
  // (and of other commands) in one round trip. When Redis does not know the script (NOSCRIPT on the
  // first use or after a restart flushed the cache) it loads the script and resends the commands from
  // the first NOSCRIPT on, in order, so the commands still run in pipeline order as long as the
  // cache is not flushed *during* the pipeline (only SCRIPT FLUSH by hand can do that). Resending a
  // command that had already run is harmless only for idempotent scripts (all of ours are).
  void add(Pipeline& p, std::span<const std::string_view> keys, std::span<const std::string_view> args) const;
  Result<std::vector<Reply>> run_pipeline(Connection& conn, const Pipeline& p, Retry retry = Retry::never) const;

  const std::string& sha1() const noexcept { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;  // lower-case hex, as Redis names scripts
};

}  // namespace pimap::redis
