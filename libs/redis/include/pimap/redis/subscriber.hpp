#pragma once
// A pub/sub subscriber on its own thread and its own connection (a subscribed connection can do
// nothing else). It reconnects with backoff and re-subscribes by itself. Messages published while
// it was disconnected are lost, as pub/sub always loses them: on_state(true) after a reconnect is
// the caller's cue to re-read whatever state the messages would have announced.

#include <pimap/redis/options.hpp>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace pimap::redis {

class Subscriber {
 public:
  using OnMessage = std::function<void(std::string_view channel, std::string_view payload)>;
  // connected=true once subscribed (again); false when the connection is lost. `detail` says why.
  using OnState = std::function<void(bool connected, std::string_view detail)>;

  // Callbacks run on the subscriber thread; keep them short (hand work to another thread).
  Subscriber(Options options, std::vector<std::string> channels, OnMessage on_message,
             OnState on_state = {});
  ~Subscriber();  // stops and joins the thread
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  void stop();
  bool subscribed() const noexcept { return subscribed_.load(); }

 private:
  void run();
  bool wait_for(std::chrono::milliseconds delay);  // false if stop was requested

  Options options_;
  std::vector<std::string> channels_;
  OnMessage on_message_;
  OnState on_state_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> subscribed_{false};
  int wake_pipe_[2] = {-1, -1};  // written by stop() to interrupt poll()
  std::thread thread_;
};

}  // namespace pimap::redis
