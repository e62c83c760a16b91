#include <pimap/redis/pool.hpp>

namespace pimap::redis {

Pool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), conn_(std::move(other.conn_)) {}

Pool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->give_back(std::move(conn_));
}

Pool::Pool(Options options, std::size_t size) : options_(std::move(options)), size_(size == 0 ? 1 : size) {}

Result<Pool::Lease> Pool::acquire() {
  std::unique_lock lock(mutex_);
  const bool got = freed_.wait_for(lock, options_.pool_wait,
                                   [&] { return !idle_.empty() || created_ < size_; });
  if (!got) {
    return Error{ErrorKind::pool_exhausted, "redis pool: no free connection within " +
                                                std::to_string(options_.pool_wait.count()) + " ms (" +
                                                std::to_string(size_) + " in use)"};
  }
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(conn));
  }
  ++created_;
  lock.unlock();
  return Lease(this, std::make_unique<Connection>(options_));
}

void Pool::give_back(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(conn));
  }
  freed_.notify_one();
}

Result<Reply> Pool::command(std::initializer_list<std::string_view> args, Retry retry) {
  auto lease = acquire();
  if (!lease) return lease.error();
  return (*lease)->command(args, retry);
}

Result<Reply> Pool::command(const std::vector<std::string>& args, Retry retry) {
  auto lease = acquire();
  if (!lease) return lease.error();
  return (*lease)->command(args, retry);
}

Result<std::vector<Reply>> Pool::pipeline(const Pipeline& pipeline, Retry retry) {
  auto lease = acquire();
  if (!lease) return lease.error();
  return (*lease)->pipeline(pipeline, retry);
}

}  // namespace pimap::redis
