#pragma once
// Queue entries (opaque bytes in Redis) <-> the protobuf messages the edge receives.

#include <pimap/session.pb.h>
#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/event_record.hpp>

namespace pimap::session {

// An overflow marker, or a payload that does not parse, becomes a RESYNC_REQUIRED event: the edge
// can always act on what it gets, and never renders an event it cannot trust.
void to_proto(const sessionstore::QueuedEvent& in, const sessionstore::DeviceKey& device,
              v1::QueuedEvent* out);

// What the notifier stores for a StoreEvent (defined in libs/sessionstore, shared with the notifier).
using sessionstore::to_record;

}  // namespace pimap::session
