#pragma once
// Catches up with the store after any gap (downtime, lost hook, periodic check, on demand): compares
// each mailbox's (UIDVALIDITY, HIGHESTMODSEQ, UIDNEXT) with what was last published and turns the
// difference into the same StoreEvents the live paths produce (same ids, so duplicates are dropped
// downstream). State advances only after Kafka has the events, so a crash repeats, never skips.
//
// A user seen for the first time only gets a baseline (nothing was missed: nobody was watching),
// except when a hook asked about some of its mailboxes (a flag change, which hooks cannot describe
// fully): then the changes carrying those mailboxes' newest MODSEQ, i.e. the transaction that fired
// the hook, are published with the flags the store holds, so a user's first flag change is not lost.
// UIDVALIDITY changed -> RESYNC_REQUIRED. A mailbox that disappeared while one with its UIDVALIDITY
// appeared is a rename (Dovecot keeps UIDVALIDITY across RENAME); otherwise DELETED / CREATED.
// Expunges of UIDs at or above the old UIDNEXT are not reported (the device never saw them).

#include "store_view.hpp"

#include <pimap/kafka/error.hpp>

#include <functional>
#include <string>
#include <vector>

namespace pimap::store_watcher {

class Reconciler {
 public:
  // Publishes events and returns once they are durably in Kafka (or the error).
  using Sink = std::function<kafka::Error(std::vector<pimap::v1::StoreEvent>)>;
  using Clock = std::function<std::int64_t()>;  // unix microseconds

  Reconciler(StoreView& store, StateStore& state, Sink sink, Clock now)
      : store_(store), state_(state), sink_(std::move(sink)), now_(std::move(now)) {}

  struct Report {
    bool ok = false;
    std::string error;
    std::size_t changes = 0;  // events published
    bool baseline = false;    // first run for this user: state recorded, nothing published
  };

  // All mailboxes, or only `mailboxes` (their state alone advances; creations/deletions are only
  // detected in a full run).
  Report reconcile(const std::string& user, const std::vector<std::string>& mailboxes = {});

 private:
  // FLAGS_CHANGED for the messages of `only` whose MODSEQ is their mailbox's HIGHESTMODSEQ.
  Outcome<std::vector<pimap::v1::StoreEvent>> last_transaction(const std::string& user,
                                                               const std::vector<std::string>& only,
                                                               const std::vector<MailboxSnapshot>& snapshots,
                                                               std::int64_t observed);

  StoreView& store_;
  StateStore& state_;
  Sink sink_;
  Clock now_;
};

}  // namespace pimap::store_watcher
