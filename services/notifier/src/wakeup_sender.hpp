#pragma once
// Sends wake-ups on a thread of its own, so a slow or dead gateway never holds up event processing.
// A wake-up that fails transiently (connection refused, timeout, 5xx, PAP 3xxx/4xxx) is retried with
// exponential backoff up to max_attempts; a permanent failure or the last attempt is counted
// (wakeups_total{outcome="failed"}) and logged. A lost wake-up loses nothing: the device gets its
// events in band when it next connects (profile §11).

#include "gateways.hpp"
#include "http_client.hpp"
#include "metrics.hpp"
#include "options.hpp"

#include <pimap/kit/log.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace pimap::notifier {

struct WakeupJob {
  Channel channel = Channel::sms;
  HttpRequest request;
  std::string user;       // for log lines only
  std::string device_id;
};

class WakeupSender {
 public:
  WakeupSender(HttpTransport& transport, DeliveryOptions options, Metrics& metrics, kit::Logger log);
  ~WakeupSender();
  WakeupSender(const WakeupSender&) = delete;
  WakeupSender& operator=(const WakeupSender&) = delete;

  // False (and counted as failed) when max_queued wake-ups are already waiting.
  bool submit(WakeupJob job);
  // Stops taking retries' time: sends what is due until `deadline`, then drops the rest (counted
  // as failed). Idempotent.
  void stop(std::chrono::steady_clock::time_point deadline);
  std::size_t queued() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    Clock::time_point due;
    int attempt = 0;  // attempts made so far
    std::uint64_t order = 0;
    WakeupJob job;
  };
  struct Later {
    bool operator()(const Pending& a, const Pending& b) const {
      return a.due != b.due ? a.due > b.due : a.order > b.order;
    }
  };
  void run();
  void attempt(Pending p);

  HttpTransport& transport_;
  DeliveryOptions options_;
  Metrics& metrics_;
  kit::Logger log_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Pending, std::vector<Pending>, Later> queue_;
  std::uint64_t next_order_ = 0;
  bool stopping_ = false;
  Clock::time_point stop_deadline_{};
  std::thread thread_;
};

}  // namespace pimap::notifier
