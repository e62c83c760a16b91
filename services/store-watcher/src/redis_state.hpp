#pragma once
// Redis side of the store-watcher (hiredis, synchronous; used from the reconcile worker only):
//   pimap:sw:mbox:{<user>}  HASH  mailbox -> "<uidvalidity> <highestmodseq> <uidnext>"  (last published)
//   pimap:watched           SET   users to watch (written by the session service; docs/redis-layout.md)

#include "store_view.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pimap::store_watcher {

class RedisState final : public StateStore {
 public:
  // "host:port"; connects lazily and reconnects after errors. A command that fails on a connection Redis
  // closed meanwhile (a Redis restart) is retried once on a new connection; anything else is the caller's
  // to retry (the control loop's ReconcileQueue).
  explicit RedisState(std::string address, std::string watched_key = "pimap:watched");
  ~RedisState() override;

  Outcome<UserState> load(const std::string& user) override;
  std::string save(const std::string& user, const UserState& state) override;
  // Every watched user (SSCAN, so a large set does not block Redis).
  Outcome<std::vector<std::string>> watched_users();

  static std::string state_key(const std::string& user) { return "pimap:sw:mbox:{" + user + "}"; }

 private:
  std::string connect_locked();
  std::string save_locked(const std::string& user, const UserState& state);
  std::string address_;
  std::string watched_key_;
  std::mutex mu_;
  redisContext* ctx_ = nullptr;
};

}  // namespace pimap::store_watcher
