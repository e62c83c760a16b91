#include "redis_state.hpp"

#include <cstdlib>
#include <sstream>

namespace pimap::store_watcher {

namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

}  // namespace

RedisState::RedisState(std::string address, std::string watched_key)
    : address_(std::move(address)), watched_key_(std::move(watched_key)) {}

RedisState::~RedisState() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

std::string RedisState::connect_locked() {
  if (ctx_ != nullptr && ctx_->err == 0) return {};
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
  auto colon = address_.rfind(':');
  if (colon == std::string::npos) return "redis address '" + address_ + "' is not host:port";
  const std::string host = address_.substr(0, colon);
  const int port = std::atoi(address_.c_str() + colon + 1);
  timeval timeout{2, 0};
  ctx_ = redisConnectWithTimeout(host.c_str(), port, timeout);
  if (ctx_ == nullptr) return "redis: out of memory";
  if (ctx_->err != 0) return std::string("redis connect ") + address_ + ": " + ctx_->errstr;
  redisSetTimeout(ctx_, timeout);
  return {};
}

Outcome<UserState> RedisState::load(const std::string& user) {
  std::lock_guard lock(mu_);
  const std::string key = state_key(user);
  Reply r;
  for (int attempt = 0; !r; ++attempt) {
    const bool reused = ctx_ != nullptr && ctx_->err == 0;
    if (auto e = connect_locked(); !e.empty()) return Outcome<UserState>::failure(e);
    r.reset(static_cast<redisReply*>(redisCommand(ctx_, "HGETALL %b", key.data(), key.size())));
    if (!r && !(reused && attempt == 0)) return Outcome<UserState>::failure(std::string("redis HGETALL: ") + ctx_->errstr);
  }
  if (r->type != REDIS_REPLY_ARRAY) return Outcome<UserState>::failure("redis HGETALL: unexpected reply");
  UserState out;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    std::string name(r->element[i]->str, r->element[i]->len);
    std::istringstream in(std::string(r->element[i + 1]->str, r->element[i + 1]->len));
    MailboxState s;
    if (in >> s.uidvalidity >> s.highestmodseq >> s.uidnext) out.emplace(std::move(name), s);
  }
  return Outcome<UserState>::success(std::move(out));
}

std::string RedisState::save(const std::string& user, const UserState& state) {
  std::lock_guard lock(mu_);
  for (int attempt = 0;; ++attempt) {
    const bool reused = ctx_ != nullptr && ctx_->err == 0;
    std::string error = save_locked(user, state);
    // A connection Redis closed (it restarted) fails on first use: one retry on a fresh one. The
    // transaction is idempotent (DEL + HSETs), and a MULTI cut short is discarded by Redis.
    if (error.empty() || !reused || attempt > 0 || ctx_ == nullptr || ctx_->err == 0) return error;
  }
}

std::string RedisState::save_locked(const std::string& user, const UserState& state) {
  if (auto e = connect_locked(); !e.empty()) return e;
  const std::string key = state_key(user);
  // MULTI/EXEC: a reader never sees a half-replaced state.
  redisAppendCommand(ctx_, "MULTI");
  redisAppendCommand(ctx_, "DEL %b", key.data(), key.size());
  std::size_t sent = 2;
  for (const auto& [mailbox, s] : state) {
    const std::string v = std::to_string(s.uidvalidity) + " " + std::to_string(s.highestmodseq) + " " +
                          std::to_string(s.uidnext);
    redisAppendCommand(ctx_, "HSET %b %b %b", key.data(), key.size(), mailbox.data(), mailbox.size(), v.data(),
                       v.size());
    ++sent;
  }
  redisAppendCommand(ctx_, "EXEC");
  ++sent;
  std::string error;
  for (std::size_t i = 0; i < sent; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK) return std::string("redis save: ") + ctx_->errstr;
    Reply r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_ERROR && error.empty()) error = "redis save: " + std::string(r->str, r->len);
    if (i == sent - 1 && r->type != REDIS_REPLY_ARRAY && error.empty()) error = "redis save: EXEC aborted";
  }
  return error;
}

Outcome<std::vector<std::string>> RedisState::watched_users() {
  using O = Outcome<std::vector<std::string>>;
  std::lock_guard lock(mu_);
  const bool reused = ctx_ != nullptr && ctx_->err == 0;
  if (auto e = connect_locked(); !e.empty()) return O::failure(e);
  std::vector<std::string> users;
  std::string cursor = "0";
  bool retried = false;
  while (true) {
    Reply r(static_cast<redisReply*>(redisCommand(ctx_, "SSCAN %b %b COUNT 1000", watched_key_.data(),
                                                  watched_key_.size(), cursor.data(), cursor.size())));
    if (!r && reused && !retried && cursor == "0") {  // Redis restarted since our last call: reconnect once
      retried = true;
      if (auto e = connect_locked(); !e.empty()) return O::failure(e);
      continue;
    }
    if (!r) return O::failure(std::string("redis SSCAN: ") + ctx_->errstr);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return O::failure("redis SSCAN: unexpected reply");
    cursor.assign(r->element[0]->str, r->element[0]->len);
    for (std::size_t i = 0; i < r->element[1]->elements; ++i)
      users.emplace_back(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
    if (cursor == "0") break;
  }
  return O::success(std::move(users));
}

}  // namespace pimap::store_watcher
