#pragma once
// Live events for the devices attached on this instance's edge streams.
//
// An edge attaches a device (after its Open) with the last seq the device has; the hub registers
// the device in Redis as held by this instance and pushes whatever is queued after that seq. From
// then on, the notifier's append publishes a wake-up on this instance's channel and the hub pushes
// the new events. Wake-ups are only hints: pumping a device reads its queue from the last seq pushed,
// so a duplicated wake-up costs nothing, after a pub/sub reconnect every attached device is pumped
// once, and the registration refresh (every attach_ttl / 3) also compares each device's last queued
// seq with the last one pushed and pumps the ones a lost wake-up left behind: a lost wake-up costs
// at most that long, never a stall until the device's next event. At most one pump per device runs at a time, which keeps pushes in order and
// collapses a burst of wake-ups into one read. Devices due for a pump wait in one ready list that a
// drain task empties, reading up to kDrainMax devices' queues in one pipelined Redis round trip:
// one event fanned out to a user's many devices costs one read, not one per device. A drain takes
// what is ready when it starts, so a lone wake-up is still served at once and batches only grow
// while the previous read is in flight.

#include "options.hpp"
#include "session_metrics.hpp"
#include "store.hpp"
#include "work_queue.hpp"

#include <pimap/kit/log.hpp>
#include <pimap/redis/pool.hpp>
#include <pimap/redis/subscriber.hpp>
#include <pimap/session.pb.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace pimap::session {

// One edge stream as the hub sees it.
class PushSink {
 public:
  virtual ~PushSink() = default;
  // Queues a message for the edge; false when the stream is gone (or was closed for lagging).
  virtual bool send(v1::SessionPush push) = 0;
  // Ends the stream (the edge reconnects, to this or another instance).
  virtual void close(std::string_view reason) = 0;
  virtual std::string edge_id() const = 0;
};

class PushHub {
 public:
  PushHub(redis::Options redis, Store& store, const Options& options, WorkQueue& work,
          SessionMetrics& metrics, kit::Logger log);
  ~PushHub();
  PushHub(const PushHub&) = delete;
  PushHub& operator=(const PushHub&) = delete;

  void start();  // subscribes and starts the refresh thread
  void stop();   // closes every stream and stops

  // Edge stream messages. They block on Redis: call them from the work queue.
  void attach(const std::shared_ptr<PushSink>& sink, const v1::EdgeMessage::Attach& msg);
  void detach(const PushSink* sink, const v1::EdgeMessage::Detach& msg);
  void stream_closed(const PushSink* sink);
  void stream_opened(const std::shared_ptr<PushSink>& sink);

  // Closes every edge stream (SIGTERM: edges move to another instance at once).
  void close_streams(std::string_view reason);

  // Redis is reachable as far as this instance can tell (readiness).
  bool redis_ready() const { return subscriber_ && subscriber_->subscribed(); }
  std::size_t attached() const;

 private:
  struct Attachment {
    std::shared_ptr<PushSink> sink;
    std::string session_id;
    std::uint64_t epoch = 0;
    std::uint64_t pushed_seq = 0;  // the edge has (or is being sent) everything up to here
    std::uint64_t generation = 0;  // changes when the device is attached again
    std::int64_t attached_unix_us = 0;  // events committed before it waited offline: no push latency
    bool scheduled = false;        // a pump is queued or running
    bool dirty = false;            // woken while the pump ran: run again
    bool retry = false;            // the last pump failed on Redis: the refresh loop retries
  };

  void on_message(std::string_view channel, std::string_view payload);
  void on_subscriber_state(bool up, std::string_view detail);
  void schedule_locked(const sessionstore::DeviceKey& device, Attachment& a);
  // Takes up to kDrainMax devices from ready_ and pumps them together.
  void drain();
  void pump_many(const std::vector<sessionstore::DeviceKey>& devices);
  void evict_local(const sessionstore::EvictNotice& notice);
  void refresh_loop();
  void refresh_once(bool touch);
  // Pushes to every device of `held` whose queue has events past what was pushed with no push under
  // way: the wake-up for them was lost.
  void push_unwoken(const std::vector<std::pair<sessionstore::DeviceKey, sessionstore::Holder>>& held);

  redis::Options redis_;
  Store& store_;
  const Options& options_;
  WorkQueue& work_;
  SessionMetrics& metrics_;
  kit::Logger log_;

  mutable std::mutex mutex_;
  std::unordered_map<sessionstore::DeviceKey, Attachment> attached_;
  std::unordered_map<const PushSink*, std::weak_ptr<PushSink>> streams_;
  std::uint64_t next_generation_ = 1;
  static constexpr std::size_t kDrainMax = 256;
  std::vector<sessionstore::DeviceKey> ready_;  // scheduled, waiting for a drain
  bool drain_posted_ = false;                   // a drain task is queued and has not taken ready_ yet

  std::unique_ptr<redis::Subscriber> subscriber_;
  std::mutex refresh_mutex_;
  std::condition_variable refresh_cv_;
  bool stopping_ = false;
  std::thread refresher_;
};

}  // namespace pimap::session
