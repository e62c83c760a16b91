#pragma once
// Stable event ids: the same store change gets the same id however it was observed (a hook, IDLE,
// NOTIFY or a reconcile run, once or twice), so the notifier can drop duplicates by id.
//
// That is why NEW and EXPUNGED events carry exactly one UID each: a hook reports one message at a time
// and a reconcile run sees many, and only per-UID ids coincide. A UID never repeats within one
// UIDVALIDITY, so "<uid>/new" names the change itself.
//
// Format (segments '/'-separated; '%' and '/' inside user and mailbox are percent-encoded):
//   MESSAGE_NEW       <user>/<mailbox>/<uidvalidity>/<uid>/new
//   MESSAGE_EXPUNGED  <user>/<mailbox>/<uidvalidity>/<uid>/expunged
//   FLAGS_CHANGED     <user>/<mailbox>/<uidvalidity>/<uid>@<modseq>/flags          (MODSEQ known)
//                     <user>/<mailbox>/<uidvalidity>/<uid>/flags=<hash of flags>   (MODSEQ unknown)
//   MAILBOX_CREATED   <user>/<mailbox>/<uidvalidity>/created
//   MAILBOX_DELETED   <user>/<mailbox>/<uidvalidity>/deleted
//   MAILBOX_RENAMED   <user>/<mailbox>/<uidvalidity>/renamed-from/<old mailbox>
//   RESYNC_REQUIRED   <user>/<mailbox>/<uidvalidity>/resync      (uidvalidity: the new one)
//                     <user>//0/resync@<observed_unix_us>       (all folders: not de-duplicated)

#include <pimap/events.pb.h>

#include <string>
#include <string_view>

namespace pimap::store_watcher {

// Percent-encodes '%' and '/' so a mailbox like "Archive/2024" cannot shift the id's segments.
std::string escape_segment(std::string_view s);

// Computes the id from the event's fields (kind, user, mailbox, uidvalidity, uids[0], modseq, flags,
// old_mailbox). Precondition for NEW/EXPUNGED/FLAGS_CHANGED: exactly one uid.
std::string make_event_id(const pimap::v1::StoreEvent& event);

// Sets event_id from the fields, and for MESSAGE_NEW and FLAGS_CHANGED stale_if_seen: the id of the
// message's MESSAGE_EXPUNGED (a device that already has the expunge gets neither; events.proto).
void assign_event_id(pimap::v1::StoreEvent& event);

}  // namespace pimap::store_watcher
