#pragma once
// Store events as the untagged responses a device in IDLE reads (profile §4), relative to the view
// the device holds: its selected mailbox and the UIDs (hence sequence numbers) it has been told.
//
// Pure functions: the caller passes a copy of the device's view, the renderer updates it as the
// device will after reading the lines, and lists the changes so that the caller can record them
// with the store session (view_added / view_removed) in the same order.
//
// What cannot be placed is never guessed: an event for the selected mailbox whose view is unknown
// becomes a RESYNC of that folder. So does a new message from a reconcile (source "reconcile": the
// store-watcher republishing what its hooks missed) whose UID is lower than one the device already
// knows: it cannot be appended without renumbering, and leaving it out would let the device's view
// silently diverge from the store. What can be appended still is; the `* FOLDER` + `* RESYNC` follows
// it, once per batch, and the device's state comparison picks up the rest. The same case from a live
// hook is not told here: it is nearly always a message the device already saw appended and expunged
// (its own changes echoed back). The renderer lists it as `doubtful` and the delivery asks the store
// whether it still exists (inband_delivery.hpp): only a real gap (two deliveries committed at once by
// two store processes whose hooks crossed) costs the device a RESYNC, not every EXPUNGE of its own.

#include <pimap/deviceview/mailbox_view.hpp>
#include <pimap/imap/mailbox_name.hpp>

#include <pimap/session.pb.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pimap::edge {

using deviceview::MailboxView;
using imap::same_mailbox;

struct RenderOptions {
  std::string selected;    // the device's selected mailbox; empty when none
  bool qresync = false;    // the device ENABLEd QRESYNC: VANISHED instead of EXPUNGE, no RECENT
  bool condstore = false;  // MODSEQ in flag updates
  // UIDVALIDITY of the device's view of `selected`, 0 when not known. An event of another
  // UIDVALIDITY cannot be placed in the view: it becomes a RESYNC of that folder.
  std::uint32_t uidvalidity = 0;
  // HIGHESTMODSEQ the device's SELECT of `selected` reported (DeviceView::Mailbox::modseq_floor), 0 when
  // not known. An event of `selected` with a MODSEQ at or below it describes the state that SELECT (and
  // the state comparison after it) already showed: a flag change is not told again, and a new message
  // missing from the view was expunged before the SELECT (not a gap, no RESYNC). Such events come late
  // from a reconcile run, behind a RESYNC the device has already answered.
  std::uint64_t modseq_floor = 0;
  // DeviceView::Mailbox::shown_modseqs of `selected`: a flag change of a UID at or below the MODSEQ the
  // device read for it is not told. Null: none.
  const std::map<std::uint32_t, std::uint64_t>* shown_modseqs = nullptr;
};

struct ViewChange {
  bool added = false;
  std::uint32_t uid = 0;
  friend bool operator==(const ViewChange&, const ViewChange&) = default;
};

// A message the lines announced with EXISTS: where its PIMAP_INBAND_NEW_FORMAT FETCH goes (right
// after its EXISTS/RECENT, at `offset` in `lines`) and the sequence number it had there.
struct Arrival {
  std::size_t offset = 0;
  std::uint32_t uid = 0;
  std::uint64_t seq = 0;
  friend bool operator==(const Arrival&, const Arrival&) = default;
};

struct Rendered {
  std::string lines;               // CRLF-terminated untagged responses, in order
  std::vector<ViewChange> changes;  // what the lines did to the device's view, in order
  std::vector<Arrival> arrivals;    // new messages announced, in order
  // A RESYNC of the selected mailbox was told for a new message that could not be placed; later
  // ones in the same batch need no second one.
  bool selected_resync = false;
  // New messages of the selected mailbox from a live hook that could not be placed (a UID below
  // one the device holds): an echo if the store no longer has them, a gap if it does.
  std::vector<std::uint32_t> doubtful;
  std::string doubtful_mailbox;
};

// `view`: the device's view of `options.selected`; null when it is not known.
void render_event(const v1::StoreEvent& event, const RenderOptions& options, MailboxView* view, Rendered& out);

// A whole push: its RESYNC (scoped with `* FOLDER` when the session names a folder) replaces the
// events it carries, since they cannot be trusted to be complete. `evicted` is the caller's business.
Rendered render_push(const v1::SessionPush& push, const RenderOptions& options, MailboxView* view);

// Several events in order, as one batch (a resume replay, or one SessionPush without RESYNC): like
// render_event for each, except that a mailbox other than the selected one gets one `* STATUS`, from
// its last event that has a status, where that event is, rather than one per change.
void render_events(const google::protobuf::RepeatedPtrField<v1::QueuedEvent>& events, const RenderOptions& options,
                   MailboxView* view, Rendered& out);

// `rendered.lines` with the store's FETCH responses for the arrivals put in (PIMAP_INBAND_NEW_FORMAT):
// each after its message's EXISTS, renumbered to the sequence number the device has for it there.
// `fetched(uid)` gives the raw `* n FETCH (...)` responses the store sent for that UID; arrivals
// without any get none.
std::string with_arrival_fetches(const Rendered& rendered,
                                 const std::function<std::vector<std::string>(std::uint32_t uid)>& fetched);

}  // namespace pimap::edge
