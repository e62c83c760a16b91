#pragma once
// A fixed-size pool of Connections for worker threads. Connections are opened lazily; a thread
// leases one, uses it exclusively and gives it back when the Lease goes out of scope. The Pool must
// outlive its Leases.

#include <pimap/redis/connection.hpp>

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace pimap::redis {

class Pool {
 public:
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease();
    Connection& operator*() noexcept { return *conn_; }
    Connection* operator->() noexcept { return conn_.get(); }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  Pool(Options options, std::size_t size);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Waits up to options.pool_wait for a free connection.
  Result<Lease> acquire();

  // Lease + command in one call, for the common single-command case.
  Result<Reply> command(std::initializer_list<std::string_view> args, Retry retry = Retry::never);
  Result<Reply> command(const std::vector<std::string>& args, Retry retry = Retry::never);
  Result<std::vector<Reply>> pipeline(const Pipeline& pipeline, Retry retry = Retry::never);

  const Options& options() const noexcept { return options_; }
  std::size_t size() const noexcept { return size_; }

 private:
  void give_back(std::unique_ptr<Connection> conn);

  Options options_;
  std::size_t size_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t created_ = 0;
};

}  // namespace pimap::redis
