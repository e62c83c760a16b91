#pragma once
// watch.mode notify / idle, for stores without push hooks: one IMAP connection per watched user this
// replica owns, logged in as `<user>*<master>`.
//
// notify (RFC 5465; Dovecot has it):
//   ENABLE CONDSTORE   (so a flag change in a mailbox shows as a STATUS with a new HIGHESTMODSEQ)
//   NOTIFY SET (personal (MessageNew MessageExpunge FlagChange MailboxName))
// Nothing is selected, so every change arrives as an unsolicited `* STATUS "box" (...)` (a message
// change in that mailbox) or `* LIST ...` (a mailbox created, renamed or deleted).
//
// idle (RFC 2177; for stores that lack NOTIFY):
//   EXAMINE INBOX      (read-only: the watcher never takes \Recent from the user's own clients)
//   IDLE               (re-issued every idle_renew, well inside the 29 minutes servers allow)
// Only INBOX is watched (IDLE sees the selected mailbox only; INBOX is where new mail lands): any
// EXISTS / EXPUNGE / FETCH / VANISHED there is an INBOX reconcile request. Changes in other folders
// are found by the periodic reconcile (reconcile.interval). The store's own IDLE delay (Dovecot waits
// a fixed 500 ms) is added to every event's latency: prefer notify or the hooks where there is a choice.
//
// Neither says exactly what changed, so each becomes a reconcile request (for that mailbox / for all),
// coalesced per read from the store; the reconciler derives the events, with the same ids as every
// other path. A connection that ends is reopened with backoff (1 s doubling to 30 s). Once the watch
// is in effect a full request follows (changes made before it, or while reconnecting; the baseline
// for a user never reconciled).
//
// Runs its own thread and io_context; every public method is thread-safe.

#include "imap_store_view.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace pimap::store_watcher {

class ImapWatcher {
 public:
  enum class Mode { notify, idle };
  // Asks for a reconcile of `user` (empty mailboxes = all); called on the watcher's thread.
  using Request = std::function<void(const std::string& user, const std::vector<std::string>& mailboxes)>;

  ImapWatcher(Mode mode, ImapStoreOptions store, Request request,
              std::chrono::milliseconds idle_renew = std::chrono::minutes(25));
  ~ImapWatcher();  // closes every connection and joins the thread
  ImapWatcher(const ImapWatcher&) = delete;
  ImapWatcher& operator=(const ImapWatcher&) = delete;

  // The users to hold a connection for from now on (the owned watched users); others are closed.
  void set_users(std::vector<std::string> users);
  // Connections with NOTIFY / IDLE in effect.
  std::size_t active() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace pimap::store_watcher
