#include <pimap/redis/subscriber.hpp>

#include "hiredis_convert.hpp"

#include <hiredis/hiredis.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>

namespace pimap::redis {
namespace {

using Clock = std::chrono::steady_clock;
// A silent subscribed connection is checked with PING this often; no byte at all for two intervals
// means the peer is gone even if TCP has not noticed yet.
constexpr std::chrono::milliseconds kPingInterval{5000};

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

struct ContextDeleter {
  void operator()(redisContext* c) const noexcept { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

bool append(redisContext* c, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> len;
  for (auto a : args) {
    argv.push_back(a.data());
    len.push_back(a.size());
  }
  return redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), len.data()) == REDIS_OK;
}

bool flush(redisContext* c) {
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(c, &done) != REDIS_OK) return false;
  }
  return true;
}

}  // namespace

Subscriber::Subscriber(Options options, std::vector<std::string> channels, OnMessage on_message,
                       OnState on_state)
    : options_(std::move(options)),
      channels_(std::move(channels)),
      on_message_(std::move(on_message)),
      on_state_(std::move(on_state)) {
  {
    // Same reason as in Connection: a vanished Redis must not kill the process with SIGPIPE.
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      sigemptyset(&ignore.sa_mask);
      sigaction(SIGPIPE, &ignore, nullptr);
    }
  }
  if (pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    wake_pipe_[0] = wake_pipe_[1] = -1;
  }
  thread_ = std::thread([this] { run(); });
}

Subscriber::~Subscriber() {
  stop();
  if (wake_pipe_[0] >= 0) close(wake_pipe_[0]);
  if (wake_pipe_[1] >= 0) close(wake_pipe_[1]);
}

void Subscriber::stop() {
  if (!stopping_.exchange(true) && wake_pipe_[1] >= 0) {
    const char b = 1;
    [[maybe_unused]] auto n = write(wake_pipe_[1], &b, 1);
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool Subscriber::wait_for(std::chrono::milliseconds delay) {
  pollfd p{wake_pipe_[0], POLLIN, 0};
  poll(&p, 1, static_cast<int>(delay.count()));
  return !stopping_.load();
}

void Subscriber::run() {
  std::chrono::milliseconds backoff{0};
  bool announced_down = false;
  const std::string where = "redis " + options_.host + ":" + std::to_string(options_.port);
  auto lost = [&](const std::string& why) {
    if (subscribed_.exchange(false) || !announced_down) {
      announced_down = true;
      if (on_state_) on_state_(false, why);
    }
    backoff = backoff.count() == 0 ? options_.backoff_initial : std::min(backoff * 2, options_.backoff_max);
  };

  while (!stopping_.load()) {
    ContextPtr ctx(redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                           to_timeval(options_.connect_timeout)));
    if (!ctx || ctx->err != 0) {
      lost(where + ": connect: " + (ctx ? std::string(ctx->errstr) : std::string("out of memory")));
      if (!wait_for(backoff)) break;
      continue;
    }
    redisSetTimeout(ctx.get(), to_timeval(options_.command_timeout));
    redisEnableKeepAlive(ctx.get());
    if (!options_.password.empty()) append(ctx.get(), {"AUTH", options_.password});
    std::vector<std::string_view> sub{"SUBSCRIBE"};
    sub.insert(sub.end(), channels_.begin(), channels_.end());
    if (!append(ctx.get(), sub) || !flush(ctx.get())) {
      lost(where + ": subscribe: " + ctx->errstr);
      if (!wait_for(backoff)) break;
      continue;
    }

    std::size_t confirmed = 0;
    auto last_read = Clock::now();
    auto last_ping = Clock::now();
    std::string failure;
    while (!stopping_.load() && failure.empty()) {
      pollfd fds[2] = {{ctx->fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
      const int n = poll(fds, 2, static_cast<int>(kPingInterval.count() / 2));
      if (n < 0 && errno != EINTR) {
        failure = where + ": poll failed";
        break;
      }
      const auto now = Clock::now();
      if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        if (redisBufferRead(ctx.get()) != REDIS_OK) {
          failure = where + ": " + (ctx->err == REDIS_ERR_EOF ? "connection closed by server" : ctx->errstr);
          break;
        }
        last_read = now;
        void* raw = nullptr;
        while (redisGetReplyFromReader(ctx.get(), &raw) == REDIS_OK && raw != nullptr) {
          Reply r = detail::convert(static_cast<redisReply*>(raw));
          freeReplyObject(raw);
          raw = nullptr;
          if (r.is_error()) {
            failure = where + ": " + std::string(r.str());
            break;
          }
          if (!r.is_array() || r.elements().size() < 2) continue;  // AUTH's +OK
          const auto kind = r.elements()[0].str();
          if (kind == "message" && r.elements().size() == 3) {
            if (on_message_) on_message_(r.elements()[1].str(), r.elements()[2].str());
          } else if (kind == "subscribe") {
            if (++confirmed == channels_.size()) {
              backoff = std::chrono::milliseconds{0};
              announced_down = false;
              subscribed_.store(true);
              if (on_state_) on_state_(true, where + ": subscribed");
            }
          }
        }
        if (ctx->err != 0 && failure.empty()) failure = where + ": " + ctx->errstr;
      }
      if (now - last_read > 2 * kPingInterval) {
        failure = where + ": no traffic for " + std::to_string(2 * kPingInterval.count()) + " ms";
      } else if (now - last_ping >= kPingInterval) {
        last_ping = now;
        if (!append(ctx.get(), {"PING"}) || !flush(ctx.get())) failure = where + ": ping: " + ctx->errstr;
      }
    }
    if (stopping_.load()) break;
    lost(failure);
    if (!wait_for(backoff)) break;
  }
  subscribed_.store(false);
}

}  // namespace pimap::redis
