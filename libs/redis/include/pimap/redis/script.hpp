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

  const std::string& sha1() const noexcept { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;  // lower-case hex, as Redis names scripts
};

}  // namespace pimap::redis
