#pragma once
// Which of a user's devices get a store event, in band (queued) and out of band (SMS / WAP Push),
// from the device's preferences (profile §5) and filters (§7). Pure functions: no I/O.
//
// - Event filter (PIMAP_EVENT_FILTER): ALL = every change, NEW = arrivals only, NONE = nothing.
//   A RESYNC_REQUIRED event is not a change but the news that the device's view cannot be trusted,
//   so it always passes.
// - Notification filter: per device and folder, set by XFILTER ... N. XFILTER storage does not exist
//   yet, so every device has the profile default: ALL on INBOX, NONE elsewhere.
// - In band, the selected folder's events always go (the edge renders them against the client's
//   view); other folders' changes only when the notification filter passes (they become STATUS
//   lines). The selected folder is known from the session as of the device's last Detach. While a
//   device is attached, Redis does not know which folder it has selected now, so every event that
//   passes the event filter is queued and the edge, which knows the view, decides how to render it.
// - Out of band: only for a device with a channel and an address, no live connection (nobody holds
//   it in the attach registry), and an event passing both the event and the notification filter.

#include <pimap/events.pb.h>
#include <pimap/imap/mailbox_name.hpp>

#include "metrics.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace pimap::notifier {

using imap::same_mailbox;

enum class EventFilter { all, new_only, none };
enum class OutbandChannel { none, sms, wap_push };
enum class OutbandFormat { emn, extended };

// Canonical preference values as the session store keeps them; unknown or empty -> the default.
EventFilter parse_event_filter(std::string_view v);
OutbandChannel parse_channel(std::string_view v);
OutbandFormat parse_format(std::string_view v);

struct DeviceState {
  std::string device_id;
  bool has_session = false;
  bool selected = false;  // SELECTED at the last Detach
  std::string folder;     // the folder selected then
  bool attached = false;  // an edge holds a live connection to it
  EventFilter event_filter = EventFilter::all;
  OutbandChannel channel = OutbandChannel::none;
  std::string address;    // E.164, "+4912345678"
  OutbandFormat format = OutbandFormat::emn;
};

bool passes_event_filter(const v1::StoreEvent& e, EventFilter f);
// The default notification filter: INBOX (case-insensitive, as IMAP names it) only. A RESYNC of
// every folder (empty mailbox) includes INBOX.
bool passes_notification_filter(const v1::StoreEvent& e);
// Whether the event concerns `folder` (its mailbox, or the old name of a renamed one).
bool concerns_folder(const v1::StoreEvent& e, std::string_view folder);

struct Decision {
  bool inband = false;
  std::optional<FilterReason> inband_rejected;  // set when !inband
  bool outband = false;                         // a wake-up is wanted (before coalescing)
};

Decision decide(const v1::StoreEvent& e, const DeviceState& d);

}  // namespace pimap::notifier
