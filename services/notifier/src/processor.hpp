#pragma once
// One StoreEvent -> every device of its user: the device's queue (in band) and, for a device without
// a live connection, an out-of-band wake-up. Redis holds everything (docs/redis-layout.md):
//   1. the user's device index (HGETALL), then one pipeline for every device's session, preferences
//      and attach registration;
//   2. per device that passes its filters (filters.hpp), EventQueue::append: idempotent by event id,
//      and it wakes the session instance holding the device in the same step;
//   3. per device wanting a wake-up, WakeupGate::try_acquire (coalescing, hourly cap), then the
//      wake-up goes to the sender's queue.
// A transient Redis failure returns `retry`: the caller backs off and calls again with the same
// event. Appends already made are duplicates then (no harm), and the processor remembers which
// devices of the current event are finished so that their wake-ups are neither lost nor repeated.

#include "filters.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "wakeup_sender.hpp"

#include <pimap/kit/log.hpp>
#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/attach_registry.hpp>
#include <pimap/sessionstore/device_index.hpp>
#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/wakeup_gate.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace pimap::notifier {

class Processor {
 public:
  enum class Outcome { done, retry };
  using Submit = std::function<void(WakeupJob)>;
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  Processor(redis::Pool& pool, const Options& options, Metrics& metrics, Submit submit, kit::Logger log,
            Clock clock = [] { return std::chrono::system_clock::now(); });

  Outcome process(const v1::StoreEvent& event);

  // The last Redis error text (for logs by the caller while it retries).
  const std::string& last_error() const { return last_error_; }

 private:
  struct IndexedState {
    DeviceState state;
    std::string token;
  };
  bool load_devices(const std::string& user, std::vector<IndexedState>& out);
  Outcome deliver(const v1::StoreEvent& event, const IndexedState& device);
  void wake(const v1::StoreEvent& event, const DeviceState& device, std::uint64_t seq, bool state_comparison);
  Outcome fail(const std::string& what);

  redis::Pool& pool_;
  const Options& options_;
  Metrics& metrics_;
  Submit submit_;
  kit::Logger log_;
  Clock clock_;
  sessionstore::Keys keys_;
  sessionstore::DeviceIndex index_;
  sessionstore::EventQueue queue_;
  sessionstore::WakeupGate gate_;

  std::string current_event_;
  std::set<std::string> finished_devices_;  // of current_event_
  std::string last_error_;
};

}  // namespace pimap::notifier
