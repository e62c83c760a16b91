#include "filters.hpp"

namespace pimap::notifier {

EventFilter parse_event_filter(std::string_view v) {
  if (v == "NEW") return EventFilter::new_only;
  if (v == "NONE") return EventFilter::none;
  return EventFilter::all;
}

OutbandChannel parse_channel(std::string_view v) {
  if (v == "SMS") return OutbandChannel::sms;
  if (v == "WAP_PUSH") return OutbandChannel::wap_push;
  return OutbandChannel::none;
}

OutbandFormat parse_format(std::string_view v) {
  return v == "EXTENDED" ? OutbandFormat::extended : OutbandFormat::emn;
}

bool passes_event_filter(const v1::StoreEvent& e, EventFilter f) {
  if (e.kind() == v1::StoreEvent::RESYNC_REQUIRED) return true;
  switch (f) {
    case EventFilter::all: return true;
    case EventFilter::new_only: return e.kind() == v1::StoreEvent::MESSAGE_NEW;
    case EventFilter::none: return false;
  }
  return true;
}

bool passes_notification_filter(const v1::StoreEvent& e) {
  if (e.kind() == v1::StoreEvent::RESYNC_REQUIRED && e.mailbox().empty()) return true;
  return concerns_folder(e, "INBOX");
}

bool concerns_folder(const v1::StoreEvent& e, std::string_view folder) {
  if (same_mailbox(e.mailbox(), folder)) return true;
  return e.kind() == v1::StoreEvent::MAILBOX_RENAMED && same_mailbox(e.old_mailbox(), folder);
}

Decision decide(const v1::StoreEvent& e, const DeviceState& d) {
  Decision out;
  const bool event_ok = passes_event_filter(e, d.event_filter);
  const bool notify_ok = passes_notification_filter(e);
  if (!d.has_session) {
    out.inband_rejected = FilterReason::no_session;
  } else if (!event_ok) {
    out.inband_rejected = FilterReason::event_filter;
  } else if (e.kind() == v1::StoreEvent::RESYNC_REQUIRED || d.attached || notify_ok ||
             (d.selected && concerns_folder(e, d.folder))) {
    out.inband = true;
  } else {
    out.inband_rejected = FilterReason::notification_filter;
  }
  out.outband = d.channel != OutbandChannel::none && !d.address.empty() && !d.attached && event_ok && notify_ok;
  return out;
}

}  // namespace pimap::notifier
