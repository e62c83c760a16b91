#pragma once
// Store events as the untagged responses a device in IDLE reads (profile §4), relative to the view
// the device holds: its selected mailbox and the UIDs (hence sequence numbers) it has been told.
//
// Pure functions: the caller passes a copy of the device's view, the renderer updates it as the
// device will after reading the lines, and lists the changes so that the caller can record them
// with the store session (view_added / view_removed) in the same order.
//
// What cannot be placed is never guessed: an event for the selected mailbox whose view is unknown
// becomes a RESYNC of that folder. A new message whose UID is lower than one the device already
// knows cannot be appended without renumbering; it is left to the store session's reconciliation at
// the device's next command.

#include "mailbox_view.hpp"

#include <pimap/session.pb.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pimap::edge {

struct RenderOptions {
  std::string selected;    // the device's selected mailbox; empty when none
  bool qresync = false;    // the device ENABLEd QRESYNC: VANISHED instead of EXPUNGE, no RECENT
  bool condstore = false;  // MODSEQ in flag updates
};

struct ViewChange {
  bool added = false;
  std::uint32_t uid = 0;
  friend bool operator==(const ViewChange&, const ViewChange&) = default;
};

struct Rendered {
  std::string lines;               // CRLF-terminated untagged responses, in order
  std::vector<ViewChange> changes;  // what the lines did to the device's view, in order
};

// `view`: the device's view of `options.selected`; null when it is not known.
void render_event(const v1::StoreEvent& event, const RenderOptions& options, MailboxView* view, Rendered& out);

// A whole push: its RESYNC (scoped with `* FOLDER` when the session names a folder) replaces the
// events it carries, since they cannot be trusted to be complete. `evicted` is the caller's business.
Rendered render_push(const v1::SessionPush& push, const RenderOptions& options, MailboxView* view);

// True when two mailbox names mean the same mailbox (INBOX is case-insensitive, RFC 3501 5.1).
bool same_mailbox(std::string_view a, std::string_view b);

}  // namespace pimap::edge
