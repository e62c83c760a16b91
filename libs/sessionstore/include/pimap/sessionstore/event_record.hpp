#pragma once
// StoreEvent (proto/pimap/events.proto) -> the queue record EventQueue::append stores. One definition
// for every writer of device queues (the notifier) and every test that fills them (the session
// service's), so a queued event always looks the same. Link pimap::sessionstore_events; the rest of
// the session store does not depend on protobuf.

#include <pimap/events.pb.h>
#include <pimap/sessionstore/event_queue.hpp>

namespace pimap::sessionstore {

// The serialised event is the payload; its id is the de-duplication key; a RESYNC_REQUIRED event
// becomes a RESYNC marker scoped to its mailbox (empty = every folder).
EventRecord to_record(const v1::StoreEvent& event);

}  // namespace pimap::sessionstore
