#pragma once
// What the reconciler needs from the store, as user*master over IMAPS with CONDSTORE/QRESYNC.
// Kept behind an interface so the reconcile logic is tested without a store and the IMAP side can be
// swapped (libs/imap's async client in production).

#include "outcome.hpp"

#include <pimap/events.pb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pimap::store_watcher {

// What the watcher last published for one mailbox; MODSEQs after it are "not yet seen".
struct MailboxState {
  std::uint32_t uidvalidity = 0;
  std::uint64_t highestmodseq = 0;
  std::uint32_t uidnext = 0;
  friend bool operator==(const MailboxState&, const MailboxState&) = default;
};
using UserState = std::map<std::string, MailboxState>;  // by mailbox name

struct MailboxSnapshot {
  std::string name;
  pimap::v1::MailboxStatus status;  // LIST ... RETURN (STATUS (MESSAGES UIDNEXT UNSEEN HIGHESTMODSEQ UIDVALIDITY))
};

struct ChangedMessage {
  std::uint32_t uid = 0;
  std::uint64_t modseq = 0;
  std::vector<std::string> flags;
  std::optional<pimap::v1::MessageInfo> info;  // for messages at or above the old UIDNEXT, when fetched
};

struct MailboxChanges {
  pimap::v1::MailboxStatus status;      // after the SELECT (uidvalidity, uidnext, highestmodseq, ...)
  std::vector<ChangedMessage> changed;  // FETCH (UID FLAGS MODSEQ ...) CHANGEDSINCE since.highestmodseq
  std::vector<std::uint32_t> vanished;  // VANISHED (EARLIER) since.highestmodseq
};

class StoreView {
 public:
  virtual ~StoreView() = default;
  virtual Outcome<std::vector<MailboxSnapshot>> mailboxes(const std::string& user) = 0;
  // SELECT mailbox (QRESYNC (since.uidvalidity since.highestmodseq)). If the UIDVALIDITY differs,
  // status says so and the change lists may be empty.
  virtual Outcome<MailboxChanges> changes_since(const std::string& user, const std::string& mailbox,
                                                const MailboxState& since) = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual Outcome<UserState> load(const std::string& user) = 0;
  // Replaces the user's whole state (mailboxes not in `state` are forgotten). Empty string = ok.
  virtual std::string save(const std::string& user, const UserState& state) = 0;
};

}  // namespace pimap::store_watcher
