#pragma once
// The per-user connection limit (profile §14): at most `max_per_user` concurrent connections; a new
// one is never refused, instead the connection idle the longest is evicted (the oldest by start if
// none is idle). A device has at most one connection: a new connection with the same id supersedes
// the old one, wherever it is.
//
// The registry is data in Redis that any edge or session instance can query; entries not refreshed
// for `stale_after` are taken to be dead (their edge crashed) and dropped.

#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/keys.hpp>
#include <pimap/sessionstore/types.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace pimap::sessionstore {

struct ConnectionEntry {
  std::string conn_id;          // device id for P-IMAP devices; any unique id for plain sessions
  std::string edge_id;          // who holds it (where the eviction must be sent)
  std::string token;            // tells two connections with the same conn_id apart (e.g. the epoch)
  std::int64_t started_ms = 0;
  std::int64_t idle_since_ms = 0;  // 0 = busy (a command in progress)
  std::int64_t seen_ms = 0;        // last refresh
};

struct Eviction {
  enum class Reason { limit, superseded };
  Reason reason;
  ConnectionEntry entry;
};

struct PolicyConfig {
  std::size_t max_per_user = 10;
  std::chrono::seconds stale_after{300};
};

class ConnectionPolicy {
 public:
  ConnectionPolicy(redis::Pool& pool, Keys keys, PolicyConfig config);

  // Registers a new connection (idle from `now_ms`) and returns the connections the caller must
  // close: the previous connection with the same conn_id, and as many of the longest idle as needed
  // to stay within the limit. The evicted entries are already removed from the registry.
  Result<std::vector<Eviction>> admit(std::string_view user, std::string_view conn_id,
                                      std::string_view edge_id, std::string_view token, std::int64_t now_ms);
  // Activity (idle=false: a command started; idle=true: it finished) and liveness refresh.
  Result<void> mark(std::string_view user, std::string_view conn_id, bool idle, std::int64_t now_ms);
  // Refreshes liveness only, keeping the idle state.
  Result<void> refresh(std::string_view user, std::string_view conn_id, std::int64_t now_ms);
  // The connection is gone. Removes the entry only if it is still this connection's (`token` as
  // given to admit): a late release of a superseded connection must not remove its successor. An
  // empty token removes the entry whoever holds it (LOGOUT ends every connection of the session).
  Result<void> release(std::string_view user, std::string_view conn_id, std::string_view token);
  Result<std::vector<ConnectionEntry>> list(std::string_view user);

  const PolicyConfig& config() const noexcept { return config_; }

 private:
  redis::Pool& pool_;
  Keys keys_;
  PolicyConfig config_;
};

}  // namespace pimap::sessionstore
