#include <pimap/sessionstore/event_record.hpp>

namespace pimap::sessionstore {

EventRecord to_record(const v1::StoreEvent& event) {
  EventRecord r;
  r.event_id = event.event_id();
  r.payload = event.SerializeAsString();
  r.resync = event.kind() == v1::StoreEvent::RESYNC_REQUIRED;
  r.mailbox = event.mailbox();
  r.stale_if_seen = event.stale_if_seen();
  return r;
}

}  // namespace pimap::sessionstore
