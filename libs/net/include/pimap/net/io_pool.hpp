#pragma once
// A few io_contexts, one thread each, handed out round-robin. A connection stays on the
// io_context it was given, so its handlers never run concurrently and need no locks; the threads
// share no state except what the owner shares on purpose.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace pimap::net {

class IoPool {
 public:
  explicit IoPool(std::size_t threads);
  ~IoPool();  // stop() + join()
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // Starts one thread per io_context; they run until stop().
  void start();
  void stop();
  void join();

  boost::asio::io_context& next() noexcept;  // round-robin, thread-safe
  boost::asio::io_context& at(std::size_t index) noexcept { return *contexts_[index]; }
  std::size_t size() const noexcept { return contexts_.size(); }

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace pimap::net
