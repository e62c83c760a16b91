#pragma once
// Dovecot push_notification payloads -> StoreEvents.
//
// OX driver (PUT, new mail in INBOX-like folders only, users with the METADATA key set):
//   {"user","event":"messageNew","folder","imap-uidvalidity","imap-uid","from","subject","snippet","unseen"}
//
// Lua driver (dovecot/pimap-push.lua, POST, every kind of change, one request per transaction), v1:
//   {"v":1, "user":"alice",
//    "events":[{"type":"MessageNew"|"MessageAppend", "mailbox","uidvalidity","uid",
//               "from","subject","date"(unix s),"size","flags":[..]}           (all but uid optional)
//              {"type":"MessageExpunge","mailbox","uidvalidity","uid"}
//              {"type":"FlagsSet"|"FlagsClear","mailbox","uidvalidity","uid",
//               "flags":[full new set]?  "changed":[flags set/cleared]}
//              {"type":"MailboxCreate"|"MailboxDelete","mailbox","uidvalidity"?}
//              {"type":"MailboxRename","mailbox","old_mailbox","uidvalidity"?}],
//    "status":{"<mailbox>":{"messages","uidnext","unseen","highestmodseq","uidvalidity"}}?}
//   A message event with uid or uidvalidity 0 (Dovecot saved the mail without assigning a UID yet:
//   Maildir under concurrent deliveries) also sends its mailbox to `reconcile`, as does an OX
//   messageNew without a UID.
//   Unknown types (MailboxSubscribe, ...) are ignored. A flag change without the full new set cannot
//   become a FLAGS_CHANGED event (devices need the whole set): its mailbox goes to `reconcile`, and
//   the store, the truth, says what the flags are now.

#include <pimap/events.pb.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pimap::store_watcher {

struct HookBatch {
  std::string user;
  std::vector<pimap::v1::StoreEvent> events;    // ids assigned, source = "push_notification"
  std::vector<std::string> reconcile_mailboxes;  // changes the payload could not describe fully
  std::size_t ignored = 0;                       // events of kinds that are not store changes
};

struct HookParse {
  bool ok = false;
  std::string error;  // why the payload was rejected (answered 400, Dovecot logs it)
  // When !ok: events empty; user and reconcile_mailboxes hold what could still be read (Lua payloads
  // that are JSON objects), so the store can be asked about a change the payload failed to describe.
  HookBatch batch;
};

HookParse parse_ox_payload(std::string_view body, std::int64_t observed_unix_us);
HookParse parse_lua_payload(std::string_view body, std::int64_t observed_unix_us);

}  // namespace pimap::store_watcher
