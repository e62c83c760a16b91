#pragma once
// watch.mode notify, for stores without push hooks: one IMAP connection per watched user this replica
// owns, logged in as `<user>*<master>`, with
//   ENABLE CONDSTORE   (so a flag change in a mailbox shows as a STATUS with a new HIGHESTMODSEQ)
//   NOTIFY SET (personal (MessageNew MessageExpunge FlagChange MailboxName))     RFC 5465
// Nothing is selected, so every change arrives as an unsolicited `* STATUS "box" (...)` (a message
// change in that mailbox) or `* LIST ...` (a mailbox created, renamed or deleted). Neither says
// exactly what changed, so each becomes a reconcile request (for that mailbox / for all); the
// reconciler derives the events, with the same ids as every other path. A connection that ends is
// reopened with backoff. Once NOTIFY is in effect a full request follows (changes made before it, or
// while reconnecting; the baseline for a user never reconciled).
//
// Runs its own thread and io_context; every public method is thread-safe.

#include "imap_store_view.hpp"

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace pimap::store_watcher {

class NotifyWatcher {
 public:
  // Asks for a reconcile of `user` (empty mailboxes = all); called on the watcher's thread.
  using Request = std::function<void(const std::string& user, const std::vector<std::string>& mailboxes)>;

  NotifyWatcher(ImapStoreOptions store, Request request);
  ~NotifyWatcher();  // closes every connection and joins the thread
  NotifyWatcher(const NotifyWatcher&) = delete;
  NotifyWatcher& operator=(const NotifyWatcher&) = delete;

  // The users to hold a connection for from now on (the owned watched users); others are closed.
  void set_users(std::vector<std::string> users);
  // Connections with NOTIFY in effect.
  std::size_t active() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace pimap::store_watcher
