#pragma once
// What a device holds of its session that another edge needs to carry on after a reconnect: the
// extensions it ENABLEd and, when a mailbox is selected, the exact UIDs it was told (so sequence
// numbers can be rebuilt) with the mailbox's UIDVALIDITY.
//
// The edge keeps none of this across connections: it saves the view with the session service
// (DetachRequest / checkpointing AckRequest `view`, together with the acknowledged seq) and the edge
// that resumes the session reads it back from OpenResponse.view. The map is opaque to the session
// service. The edge is its only writer; besides the edge, the notifier reads it (straight from Redis)
// so that it wakes a detached device only for what the device has not been told.
//
//   e   ENABLEd extensions, space-separated upper-case atoms ("CONDSTORE QRESYNC"); may be empty
//   c   the SELECT/EXAMINE command that restores the mailbox ("SELECT INBOX\r\n")
//   f   the mailbox name as the device named it
//   uv  UIDVALIDITY (decimal); absent when the store did not say
//   ms  the HIGHESTMODSEQ the device's own SELECT/EXAMINE reported (decimal); absent when none did
//   u   the UIDs as an IMAP sequence set ("1:40,42"); empty for an empty mailbox
//   sm  MODSEQs the device was shown above `ms`, per UID ("7:250,9:251"); absent when none
// A map without `c` describes a session with nothing selected; an empty map means "unknown".

#include "pimap/deviceview/mailbox_view.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pimap::deviceview {

using ShownModseqs = std::map<std::uint32_t, std::uint64_t>;
inline constexpr std::size_t kMaxShownModseqs = 256;

// Notes that the device read `modseq` for `uid`: kept when above `floor` and above what was noted.
void record_shown_modseq(ShownModseqs& shown, std::uint32_t uid, std::uint64_t modseq, std::uint64_t floor);

struct DeviceView {
  std::vector<std::string> enabled;  // upper-case atoms
  struct Mailbox {
    std::string name;
    std::string select_command;        // CRLF-terminated
    std::uint32_t uidvalidity = 0;     // 0: not known
    MailboxView uids;
    // HIGHESTMODSEQ of the device's last SELECT/EXAMINE (0: none reported, CONDSTORE off). Every change
    // at or below it is part of the state that SELECT showed the device (RFC 7162 §3.1.2.1), so an
    // event carrying such a MODSEQ that arrives later is not news to it (event_renderer.hpp).
    std::uint64_t modseq_floor = 0;
    // UID -> highest MODSEQ above modseq_floor the device read for it in a FETCH response (its own
    // UID FETCH right after SELECT, the answer to its UID STORE): a change committed between the
    // SELECT and that FETCH is shown by the FETCH, so its event is not news either. At most
    // kMaxShownModseqs entries (record_shown_modseq drops the lowest), since the floor covers the rest.
    ShownModseqs shown_modseqs;
    friend bool operator==(const Mailbox&, const Mailbox&) = default;
  };
  std::optional<Mailbox> mailbox;      // set when a mailbox is selected
  friend bool operator==(const DeviceView&, const DeviceView&) = default;
};

std::map<std::string, std::string> encode_view(const DeviceView& view);
// nullopt for an empty map (unknown) or one that does not parse: the caller treats both as unknown.
std::optional<DeviceView> decode_view(const std::map<std::string, std::string>& saved);

}  // namespace pimap::deviceview
