#pragma once
// The per-device bounded event queue (profile §3).
//
// Each queued event gets the device's next sequence number: 1, 2, 3, ... without gaps for the life
// of the session. Appending is idempotent by event id (a Kafka redelivery or a hook + reconcile pair
// queues once) and never blocks: when the queue is full, its content is dropped and replaced by one
// overflow marker, a RESYNC for every folder. A store event that is itself a RESYNC (UIDVALIDITY
// change, unreconcilable gap) is queued as a marker scoped to its mailbox. Markers are ordinary
// queue entries, acknowledged like events, so a RESYNC is never lost between a connection that dies
// and the next one. Only a marker may follow a gap (the dropped overflow).
//
// Appending to a device without a session queues nothing (its next login is a first login anyway),
// and wakes the session-service instance that streams to the device, if any, in the same step.

#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/keys.hpp>
#include <pimap/sessionstore/types.hpp>

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pimap::sessionstore {

struct EventRecord {
  std::string event_id;  // StoreEvent.event_id: the de-duplication key
  std::string payload;   // the serialised StoreEvent, opaque here
  bool resync = false;   // StoreEvent kind RESYNC_REQUIRED
  std::string mailbox;   // scope of a resync; empty = every folder
  // An event id (StoreEvent.stale_if_seen): if the device's queue already took that event, this one
  // is stale and is not queued (AppendStatus::stale). Empty = never stale.
  std::string stale_if_seen;
};

struct QueuedEvent {
  std::uint64_t seq = 0;
  std::string event_id;
  std::string payload;    // empty for an overflow marker
  bool resync = false;    // a RESYNC marker (overflow or RESYNC_REQUIRED event)
  bool overflow = false;  // the queue overflowed here; earlier events were dropped
  std::string mailbox;    // resync scope; empty = every folder
};

// What a device has not acknowledged yet, with the RESYNC summary the edge acts on: when `resync`
// is set, the edge sends `* RESYNC` (after `* FOLDER resync_folder` if that is not empty) and skips
// the events the RESYNC covers (all of them, or those of resync_folder); it still acknowledges up
// to the last seq it was given.
struct Pending {
  std::vector<QueuedEvent> events;  // ascending seq
  std::uint64_t last_seq = 0;       // the device's last assigned seq (may exceed the last event
                                    // returned when `limit` cut the read short)
  bool resync = false;
  std::string resync_folder;        // empty with resync = every folder
};

// Sets resync/resync_folder from the markers among `events`: one folder if every marker names the
// same folder, otherwise every folder.
void summarize_resync(Pending& pending);

enum class AppendStatus {
  queued,      // appended with a new seq
  duplicate,   // event id already queued (or recently acknowledged): nothing changed
  overflow,    // the queue was full: it now holds an overflow marker at `seq`
  no_session,  // the device has no session: nothing queued
  stale,       // the event its stale_if_seen names was queued before (or earlier in the batch): not queued
};

struct AppendResult {
  AppendStatus status = AppendStatus::no_session;
  std::uint64_t seq = 0;                // new seq, or for a duplicate the seq it was queued with
  std::optional<std::string> instance;  // the session-service instance that was woken, if any
};

// One append of a batch: `event` goes to `device`'s queue. Views into the caller's data.
struct AppendItem {
  const DeviceKey* device = nullptr;
  const EventRecord* event = nullptr;
};

// One read of a batch: `device`'s events after `after_seq`.
struct ReadItem {
  const DeviceKey* device = nullptr;
  std::uint64_t after_seq = 0;
};

struct QueueConfig {
  std::size_t max_events = 10'000;
  // How many of the most recent event ids are remembered for de-duplication, counted in seqs, so an
  // event redelivered after the device acknowledged it is still not queued twice. 0 = 2 * max_events.
  std::size_t dedupe_window = 0;
};

class EventQueue {
 public:
  EventQueue(redis::Pool& pool, Keys keys, QueueConfig config);

  Result<AppendResult> append(const DeviceKey& device, const EventRecord& event);
  // The same as append() for every item, in the order given, in one pipelined round trip per
  // `chunk` items (the notifier's fan-out: all of a Kafka batch's events times their users'
  // devices). Items are grouped per device (one script run appends up to 512 events of one queue
  // and wakes its holder once); each queue gets its events in the order of `items`. One result per
  // item; an invalid item fails alone. The whole call fails only on
  // connection trouble: then any prefix of the items may have been appended, and calling again with
  // the same items is safe (idempotent by event id; the earlier ones come back `duplicate`).
  Result<std::vector<Result<AppendResult>>> append_batch(std::span<const AppendItem> items,
                                                         std::size_t chunk = 2048);
  // Events with seq > after_seq, at most `limit` of them.
  Result<Pending> read_after(const DeviceKey& device, std::uint64_t after_seq, std::size_t limit);
  // read_after() for every item in one pipelined round trip (the session service pumping the many
  // devices of a user that one event fanned out to). One result per item, in order; the call fails
  // only on connection trouble. `for_push`: the events go to an edge now; each session records that
  // (its `ps`, in the same round trip) so that a resume after that edge's loss cannot replay them.
  Result<std::vector<Result<Pending>>> read_after_batch(std::span<const ReadItem> items, std::size_t limit,
                                                       bool for_push = false);
  // The last seq given out in each device's queue (0: no session, or nothing appended yet), in one
  // pipelined round trip. The session service compares it with what it pushed to the edges, so that
  // an event whose wake-up was lost (wake-ups are pub/sub hints) waits for that check, not forever.
  Result<std::vector<std::uint64_t>> last_seqs(std::span<const DeviceKey> devices);
  // Number of events waiting (for the queue depth metric).
  Result<std::size_t> depth(const DeviceKey& device);

  const QueueConfig& config() const noexcept { return config_; }

 private:
  void add_append(redis::Pipeline& p, const DeviceKey& device, std::span<const EventRecord* const> events) const;

  redis::Pool& pool_;
  Keys keys_;
  QueueConfig config_;
};

}  // namespace pimap::sessionstore
