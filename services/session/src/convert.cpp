#include "convert.hpp"

namespace pimap::session {

void to_proto(const sessionstore::QueuedEvent& in, const sessionstore::DeviceKey& device, v1::QueuedEvent* out) {
  out->set_seq(in.seq);
  auto* ev = out->mutable_event();
  if (!in.overflow && ev->ParseFromString(in.payload)) return;
  ev->Clear();
  ev->set_event_id(in.event_id);
  ev->set_user(device.user);
  ev->set_mailbox(in.overflow ? std::string() : in.mailbox);
  ev->set_kind(v1::StoreEvent::RESYNC_REQUIRED);
  ev->set_source(in.overflow ? "queue_overflow" : "unreadable_event");
}

}  // namespace pimap::session
