#pragma once
// StoreView over IMAP (libs/imap's async client), logged in as `<user>*<master>` so the watcher sees
// every user's store without their passwords:
//   mailboxes():     LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT UNSEEN HIGHESTMODSEQ UIDVALIDITY))
//   changes_since(): ENABLE QRESYNC; SELECT m (QRESYNC (uidvalidity modseq)) -> FETCH (UID FLAGS MODSEQ)
//                    and VANISHED (EARLIER); then UID FETCH <old uidnext>:* for the new messages'
//                    size, date, sender and subject.
// Synchronous on purpose: the reconciler runs on the control-loop thread, one user at a time. One
// connection is kept for the user being reconciled (a run issues several calls for the same user) and
// replaced when another user comes or after any error.

#include "store_view.hpp"

#include <pimap/imap/client.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace pimap::store_watcher {

struct ImapStoreOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 993;
  bool implicit_tls = true;  // IMAPS; false = STARTTLS on the plain port
  std::string ca_file;       // empty: the system's trust store
  std::string master_user;
  std::string master_password;
  std::string master_separator = "*";
  std::chrono::milliseconds command_timeout{30'000};
};

// The client settings every store-watcher connection to the store uses; `tag_prefix` tells its
// commands apart in the store's logs (W reconcile, N notify, I idle).
imap::ClientOptions client_options(const ImapStoreOptions& store, std::string tag_prefix);

class ImapStoreView final : public StoreView {
 public:
  explicit ImapStoreView(ImapStoreOptions options);
  ~ImapStoreView() override;

  Outcome<std::vector<MailboxSnapshot>> mailboxes(const std::string& user) override;
  Outcome<MailboxChanges> changes_since(const std::string& user, const std::string& mailbox,
                                        const MailboxState& since) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pimap::store_watcher
