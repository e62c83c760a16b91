#include <pimap/redis/connection.hpp>

#include "hiredis_convert.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <random>

namespace pimap::redis {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      sigemptyset(&ignore.sa_mask);
      sigaction(SIGPIPE, &ignore, nullptr);
    }
  });
}

std::string endpoint(const Options& o) { return o.host + ":" + std::to_string(o.port); }

// One command as the argv/argvlen arrays hiredis wants; views into the caller's strings.
struct Argv {
  std::vector<const char*> argv;
  std::vector<size_t> len;
  template <class Range>
  explicit Argv(const Range& args) {
    argv.reserve(args.size());
    len.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      len.push_back(a.size());
    }
  }
};

}  // namespace

Pipeline& Pipeline::add(std::initializer_list<std::string_view> args) {
  commands_.emplace_back(args.begin(), args.end());
  return *this;
}

Pipeline& Pipeline::add(std::vector<std::string> args) {
  commands_.push_back(std::move(args));
  return *this;
}

Connection::Connection(Options options) : options_(std::move(options)) { ignore_sigpipe_once(); }

Connection::~Connection() { disconnect(); }

Connection::Connection(Connection&& other) noexcept
    : options_(std::move(other.options_)),
      ctx_(std::exchange(other.ctx_, nullptr)),
      used_(other.used_),
      next_attempt_(other.next_attempt_),
      backoff_(other.backoff_),
      last_connect_error_(std::move(other.last_connect_error_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    disconnect();
    options_ = std::move(other.options_);
    ctx_ = std::exchange(other.ctx_, nullptr);
    used_ = other.used_;
    next_attempt_ = other.next_attempt_;
    backoff_ = other.backoff_;
    last_connect_error_ = std::move(other.last_connect_error_);
  }
  return *this;
}

void Connection::disconnect() noexcept {
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
  used_ = false;
}

Error Connection::connection_error(const char* what) {
  const int saved_errno = errno;
  ErrorKind kind = ErrorKind::io;
  std::string detail = ctx_ != nullptr ? std::string(ctx_->errstr) : std::string("no context");
  if (ctx_ != nullptr) {
    if (ctx_->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
      kind = ErrorKind::timeout;
      detail = "no reply within " + std::to_string(options_.command_timeout.count()) + " ms";
    } else if (ctx_->err == REDIS_ERR_PROTOCOL) {
      kind = ErrorKind::protocol;
    } else if (ctx_->err == REDIS_ERR_EOF) {
      detail = "connection closed by server";
    }
  }
  // A hiredis context is unusable after any error (a late reply would be read as the answer to the
  // next command), so it is always dropped.
  disconnect();
  return Error{kind, "redis " + endpoint(options_) + ": " + what + ": " + detail};
}

Result<void> Connection::ensure_connected() {
  if (ctx_ != nullptr) return {};
  const auto now = Clock::now();
  if (now < next_attempt_) {
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now);
    return Error{ErrorKind::unavailable, "redis " + endpoint(options_) + " unavailable (" +
                                             last_connect_error_ + "); next attempt in " +
                                             std::to_string(wait.count()) + " ms"};
  }
  auto fail = [&](std::string why, ErrorKind kind) -> Error {
    disconnect();
    last_connect_error_ = std::move(why);
    backoff_ = backoff_.count() == 0 ? options_.backoff_initial
                                     : std::min(backoff_ * 2, options_.backoff_max);
    // Jitter (75-100 %) so that a pool's connections do not all retry in the same instant.
    thread_local std::minstd_rand rng{std::random_device{}()};
    const auto jittered = backoff_ * (75 + static_cast<int>(rng() % 26)) / 100;
    next_attempt_ = Clock::now() + jittered;
    return Error{kind, "redis " + endpoint(options_) + ": connect: " + last_connect_error_};
  };

  ctx_ = redisConnectWithTimeout(options_.host.c_str(), options_.port, to_timeval(options_.connect_timeout));
  if (ctx_ == nullptr) return fail("cannot allocate context", ErrorKind::unavailable);
  if (ctx_->err != 0) return fail(ctx_->errstr, ErrorKind::unavailable);
  if (redisSetTimeout(ctx_, to_timeval(options_.command_timeout)) != REDIS_OK)
    return fail("cannot set timeout", ErrorKind::unavailable);
  redisEnableKeepAlive(ctx_);

  auto setup = [&](std::initializer_list<std::string_view> args) -> std::optional<std::string> {
    Argv a(args);
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(a.argv.size()), a.argv.data(), a.len.data()));
    if (r == nullptr) return std::string(ctx_->errstr);
    std::optional<std::string> err;
    if (r->type == REDIS_REPLY_ERROR) err = std::string(r->str, r->len);
    freeReplyObject(r);
    return err;
  };
  if (!options_.password.empty()) {
    // Never put the password into an error message.
    if (auto err = setup({"AUTH", options_.password}))
      return fail("AUTH failed: " + err->substr(0, err->find(' ')), ErrorKind::server);
  }
  if (options_.db != 0) {
    const std::string db = std::to_string(options_.db);
    if (auto err = setup({"SELECT", db})) return fail("SELECT failed: " + *err, ErrorKind::server);
  }
  backoff_ = std::chrono::milliseconds{0};
  next_attempt_ = {};
  used_ = false;
  return {};
}

template <class Commands>
Result<std::vector<Reply>> Connection::exchange(const Commands& commands, Retry retry) {
  const std::size_t count = std::size(commands);
  for (int attempt = 0;; ++attempt) {
    const bool reused = ctx_ != nullptr && used_;
    if (auto c = ensure_connected(); !c) return c.error();
    for (const auto& cmd : commands) {
      Argv a(cmd);
      if (redisAppendCommandArgv(ctx_, static_cast<int>(a.argv.size()), a.argv.data(), a.len.data()) !=
          REDIS_OK) {
        return connection_error("append");
      }
    }
    std::vector<Reply> replies;
    replies.reserve(count);
    std::optional<Error> error;
    for (std::size_t i = 0; i < count; ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
        error = connection_error("command");
        break;
      }
      replies.push_back(detail::convert(static_cast<redisReply*>(raw)));
      freeReplyObject(raw);
    }
    if (!error) {
      used_ = true;
      return replies;
    }
    // Resend only when nothing came back on a connection that had worked before: the peer was gone
    // before our bytes reached it (e.g. Redis restarted while the connection sat in the pool).
    const bool stale = reused && replies.empty() && error->kind == ErrorKind::io;
    if (retry == Retry::if_stale && stale && attempt == 0) continue;
    return *error;
  }
}

Result<std::vector<Reply>> Connection::pipeline(const Pipeline& pipeline, Retry retry) {
  if (pipeline.empty()) return std::vector<Reply>{};
  return exchange(pipeline.commands(), retry);
}

Result<Reply> Connection::command(std::span<const std::string_view> args, Retry retry) {
  const std::span<const std::string_view> one[] = {args};
  auto replies = exchange(one, retry);
  if (!replies) return replies.error();
  return check(std::move(replies->front()));
}

Result<Reply> Connection::command(std::initializer_list<std::string_view> args, Retry retry) {
  return command(std::span(args.begin(), args.size()), retry);
}

Result<Reply> Connection::command(const std::vector<std::string>& args, Retry retry) {
  std::vector<std::string_view> views(args.begin(), args.end());
  return command(std::span<const std::string_view>(views), retry);
}

}  // namespace pimap::redis
