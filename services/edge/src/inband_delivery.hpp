#pragma once
// The parts of in-band event delivery that need the store session (docs/protocol.md "In-band events"):
// what a resumed session replays (profile §3) and the PIMAP_INBAND_NEW_FORMAT FETCH after a new
// message's EXISTS (profile §4). The connection decides when; these decide what.

#include "event_renderer.hpp"
#include "session_gateway.hpp"
#include "store_gateway.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace pimap::edge {

// PIMAP_INBAND_NEW_FORMAT asks for an unsolicited FETCH (not empty, not NONE).
bool wants_new_format(std::string_view preference);

// Calls `write` with `rendered.lines`, or, when `new_format` asks for it and messages arrived, with
// their FETCH responses put in after each EXISTS (fetched from the store on a connection of the
// session's own, so nothing else reaches the device). When the renderer left `doubtful` new messages
// (a live hook's UID below one the device holds), the store is asked first whether they exist
// (`UID FETCH <uids> (UID)` on such a connection): if one does, the device missed it and the lines
// end with `* FOLDER <mbox>` + `* RESYNC`; if none does, they were echoes of messages already gone.
// A check that cannot run says RESYNC too: the device must not be left with a silent gap. `write`
// runs on the store session's executor, after this returns when the store is asked, and always
// exactly once: a failed fetch costs the FETCH lines, never the events.
void write_with_new_format(const std::shared_ptr<StoreSession>& store, const std::string& new_format,
                           Rendered rendered, std::function<void(std::string lines)> write);

// What a resumed login says before `* SESSIONID` (profile §3), and the store session prepared to go
// on from the device's view:
//   * SESSION AUTHENTICATED|SELECTED, * FOLDER <mbox> when SELECTED, then either the pending events
//   rendered over the view the previous edge saved, or `* RESYNC` (scoped by a * FOLDER) when the
//   session service says events were lost, or when the device's view of its selected mailbox is not
//   known (it could not be told anything relative to it).
struct ResumePlan {
  std::string head;           // SESSION / FOLDER / RESYNC lines
  Rendered replay;            // the events, after `head`
  bool view_restored = false;  // the store session holds the device's view of `folder`
};
ResumePlan plan_resume(const SessionOpen& opened, StoreSession& store);

}  // namespace pimap::edge
