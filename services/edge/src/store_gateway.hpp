#pragma once
// What the edge needs from the message store, independent of how backend connections are made.
//
// A StoreSession is one authenticated user's access to the store. It hides the pool: backend
// connections are opened on demand (as the user through the store's master user), reused while the
// device is busy and closed after a short idle time, so a device in IDLE costs no store connection.
// Every callback runs on the executor given when the session was created (the device connection's
// io_context), never inside the call that registered it.

#include <pimap/deviceview/device_view.hpp>
#include <pimap/deviceview/mailbox_view.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pimap::edge {

// The device's view lives in libs/deviceview, since the notifier reads it too; the edge, its writer,
// names its parts as its own.
using deviceview::decode_view;
using deviceview::DeviceView;
using deviceview::encode_view;
using deviceview::kMaxShownModseqs;
using deviceview::MailboxView;
using deviceview::reconcile;
using deviceview::Reconciliation;
using deviceview::record_shown_modseq;
using deviceview::ShownModseqs;

enum class StoreStatus { ok, no, bad, unavailable };

struct StoreResult {
  StoreStatus status = StoreStatus::unavailable;
  // The tagged completion after the store's tag, e.g. "OK [READ-WRITE] Select completed (0.001 + 0.000 secs)."
  // For `unavailable` a text suitable after "NO [UNAVAILABLE] ".
  std::string text;
};

class StoreSession {
 public:
  virtual ~StoreSession() = default;
  // One complete untagged response from the store: "* ..." with CRLF and any literals inline.
  using Untagged = std::function<void(std::string_view raw)>;
  using Done = std::function<void(StoreResult)>;

  // Runs one command on the store. `command` has no tag and ends in CRLF; its literals are
  // non-synchronising ({n+}). Untagged responses arrive in order before `done`.
  virtual void execute(std::string command, Untagged on_untagged, Done done) = 0;

  // The device stopped needing the store for now (IDLE, HTTPS request ended): backend connections may
  // be closed after the pool's idle time. The next execute() reopens one and restores the selected
  // mailbox.
  virtual void park() = 0;
  // Flow control: the device is not reading fast enough; stop reading from the store until resumed,
  // so a slow device holds at most what is already buffered, not the whole response.
  virtual void pause_output() {}
  virtual void resume_output() {}

  // The device logged out or went away: close everything now.
  virtual void close() = 0;

  // The store's capabilities after login (upper-case atoms), for the CAPABILITY the edge advertises.
  virtual std::vector<std::string> capabilities() const = 0;

  // The edge itself told the device, while it was parked (IDLE), that a message with this UID was
  // added to (`* n EXISTS`) or removed from (`* n EXPUNGE` / `* VANISHED`) the selected mailbox. The
  // session then does not report that change a second time when the device's next command reaches
  // the store. Call in the order the device was told.
  virtual void view_added(std::uint32_t /*uid*/) {}
  virtual void view_removed(std::uint32_t /*uid*/) {}

  // park() for a device entering IDLE that will be told of changes in band: the session also works
  // out the device's view of its selected mailbox, and calls `ready` (on the session's executor)
  // once parked_view() has it, or once it is clear that it cannot be known.
  virtual void park_for_events(std::function<void()> ready) {
    park();
    if (ready) ready();
  }
  // While parked: the UIDs of the selected mailbox exactly as the device was told them (including
  // view_added / view_removed); null when nothing is selected or the view is not known.
  virtual const MailboxView* parked_view() const { return nullptr; }
  // The device ENABLEd this extension (upper-case atom: "QRESYNC", "CONDSTORE").
  virtual bool enabled(std::string_view /*atom*/) const { return false; }

  // Resuming a session (profile §3): what the device holds, as another edge must know it to carry on
  // (device_view.hpp). nullopt when it cannot be told without asking the store (a backend connection
  // currently numbers the messages for the device), or when the session is closed. `name` of the
  // mailbox is left empty: the connection knows what the device called it.
  virtual std::optional<DeviceView> device_view() const { return std::nullopt; }
  // What rendering events needs of device_view()'s mailbox (on every push), without copying its UIDs:
  // nullopt exactly when device_view() has no mailbox. `shown` points into the session: read it
  // before the session runs anything else.
  struct RenderFacts {
    std::uint32_t uidvalidity = 0;
    std::uint64_t modseq_floor = 0;
    const ShownModseqs* shown = nullptr;
  };
  virtual std::optional<RenderFacts> render_facts() const { return std::nullopt; }
  // The device resumes holding `view` (read back from the session service): the session restores
  // the ENABLEd extensions and the selected mailbox with the next command, reconciling the device
  // from this view to the store's, and parked_view() starts from it.
  virtual void restore_device_view(const DeviceView& /*view*/) {}
  // close() for a device that went away while its session lives on: first works out its view (a
  // hidden UID SEARCH on the connection that numbers messages for it, when there is one and nothing
  // is pending), then closes and calls `done` with device_view() as it was.
  virtual void close_with_view(std::function<void(std::optional<DeviceView>)> done) {
    auto v = device_view();
    close();
    if (done) done(std::move(v));
  }
  // PIMAP_INBAND_NEW_FORMAT (profile §4): `UID FETCH <uids> <attributes>` in the selected mailbox on
  // a connection of the session's own, so that nothing of it reaches the device's stream but what
  // the caller makes of it. `on_fetch` gets each FETCH response of a requested UID; `done(false)`
  // when it could not run (store unavailable, nothing selected).
  using OnFetch = std::function<void(std::uint32_t uid, std::string_view raw)>;
  virtual void fetch_aside(std::string /*uid_set*/, std::string /*attributes*/, OnFetch /*on_fetch*/,
                           std::function<void(bool ok)> done) {
    if (done) done(false);
  }
};

class StoreGateway {
 public:
  virtual ~StoreGateway() = default;
  struct LoginResult {
    StoreStatus status = StoreStatus::unavailable;  // ok, no (bad credentials) or unavailable
    std::string text;
    std::shared_ptr<StoreSession> session;          // set iff ok
  };
  // Verifies the user's credentials against the store. The password is used for that one check and
  // never stored or logged.
  // `client_ip` is the device's address: the store is told it (IMAP ID x-originating-ip) so that its
  // own brute-force penalties land on the device, not on the edge that every device shares.
  // `cancel` (optional, emitted on `executor`): the device went away. A check that has not reached
  // the store yet is dropped and `done` is never called; one already running finishes normally.
  virtual void login(boost::asio::any_io_executor executor, std::string user, std::string password,
                     std::string client_ip, std::function<void(LoginResult)> done,
                     boost::asio::cancellation_slot cancel = {}) = 0;
  // A session for `user` without the user's password, for a device that proved itself with a
  // bearer credential the edge checked (an HTTPS session cookie the session service knows).
  // The default: no such sessions (`unavailable`).
  virtual void resume(boost::asio::any_io_executor executor, std::string user, std::string client_ip,
                      std::function<void(LoginResult)> done) {
    static_cast<void>(user);
    static_cast<void>(client_ip);
    boost::asio::post(executor, [done = std::move(done)] {
      done(LoginResult{.status = StoreStatus::unavailable, .text = "Message store unavailable", .session = {}});
    });
  }
};

}  // namespace pimap::edge
