#pragma once
// Whether a detached device has been told of a store event already, judged from the view its edge
// saved with the session (libs/deviceview). A wake-up for a change the device holds costs the carrier
// an SMS and the user a needless sync; the usual case is a reconcile republishing a change committed
// just before the device registered (its hook reached the notifier before the device existed, so the
// device's queue never took that event id, while the device's first SELECT showed the message).
//
// Only proof counts: an unknown view, another mailbox or UIDVALIDITY, or a kind the view says nothing
// about is news. In the mailbox the view describes, a change is known when
//  - its MODSEQ is at or below the HIGHESTMODSEQ the device's SELECT reported (RFC 7162 §3.1.2.1);
//  - it is a new message whose every UID is at or below the highest UID the device was told (UIDs
//    grow with arrival: a lower one the device lacks was expunged before it could be told);
//  - it is an expunge of UIDs none of which the device holds;
//  - it is a flag change whose every UID the device read at that MODSEQ or later.

#include <pimap/deviceview/device_view.hpp>
#include <pimap/events.pb.h>

#include <optional>

namespace pimap::notifier {

bool is_news(const v1::StoreEvent& event, const std::optional<deviceview::DeviceView>& view);

}  // namespace pimap::notifier
