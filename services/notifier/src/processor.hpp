#pragma once
// A batch of StoreEvents (what one Kafka poll gave) -> every device of each event's user: the
// device's queue (in band) and, for a device without a live connection, an out-of-band wake-up.
// Redis holds everything (docs/redis-layout.md). A batch costs a fixed number of round trips, not
// a few per event and device:
//   1. one pipeline: the device index (HGETALL) of every user in the batch;
//   2. one pipeline: every indexed device's session, preferences and attach registration;
//   3. EventQueue::append_batch: every (event, device) append that passes the filters
//      (filters.hpp), in batch order, pipelined (one round trip per 2,048 appends). Each append is
//      idempotent by event id and wakes the session instance holding the device in the same step.
//      Redis runs one connection's commands in order, so every queue gets its user's events in
//      Kafka order (one user = one partition);
//   4. only when some (event, device) pair wants a wake-up, before any append: one pipeline of
//      those devices' saved views, so that a device is woken only for news (news.hpp);
//   5. per (event, device) wanting a wake-up, WakeupGate::try_acquire (coalescing, hourly cap),
//      then the wake-up goes to the sender's queue; devices with neither a session nor a channel
//      are pruned from the index (once per batch).
// Nothing read from Redis outlives the call (no cache to go stale). The index and states are read
// after every event of the batch was produced, so a device registered before an event was produced
// is always seen. A transient Redis failure returns `retry`: the caller backs off and calls again
// with the same batch. Appends already made are duplicates then (no harm), and the processor
// remembers which (event, device) pairs of the current batch are finished so that their wake-ups
// are neither lost nor repeated.

#include "filters.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "wakeup_sender.hpp"

#include <pimap/deviceview/device_view.hpp>
#include <pimap/kit/log.hpp>
#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/attach_registry.hpp>
#include <pimap/sessionstore/device_index.hpp>
#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/wakeup_gate.hpp>

#include <functional>
#include <map>
#include <optional>
#include <span>
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

  // Everything in `events` (in order), or nothing committed-worthy: `retry` means call again with
  // the same events.
  Outcome process_batch(std::span<const v1::StoreEvent> events);
  Outcome process(const v1::StoreEvent& event) { return process_batch(std::span(&event, 1)); }

  // The last Redis error text (for logs by the caller while it retries).
  const std::string& last_error() const { return last_error_; }

 private:
  struct IndexedState {
    DeviceState state;
    std::string token;
  };
  using UserDevices = std::map<std::string, std::vector<IndexedState>, std::less<>>;
  bool load_devices(std::span<const v1::StoreEvent> events, UserDevices& out);
  // "user\ndevice" -> the view the device's edge saved (nullopt: none, or unreadable).
  using Views = std::map<std::string, std::optional<deviceview::DeviceView>, std::less<>>;
  // Fills the views of `wanted` (keys as in Views).
  bool load_views(const std::set<std::string>& wanted, Views& out);
  // After the append (if any) of one (event, device) pair: metrics and wake-up.
  void after_append(const v1::StoreEvent& event, const DeviceState& d, const Decision& decision,
                    const sessionstore::Result<sessionstore::AppendResult>* appended,
                    const std::optional<deviceview::DeviceView>& view);
  void wake(const v1::StoreEvent& event, const DeviceState& device, std::uint64_t seq, bool state_comparison,
            const std::optional<deviceview::DeviceView>& view);
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

  std::string current_batch_;               // first and last event id of the batch being retried
  std::set<std::string> finished_;          // "event id\ndevice id" pairs of current_batch_ done
  std::string last_error_;
};

}  // namespace pimap::notifier
