#pragma once
// One device session's access to the store (the StoreSession behind StoreGateway::login).
//
// Connections: the session holds at most one backend connection and runs the device's commands on
// it strictly in order. The first one is the connection that verified the user's password; later
// ones are opened on demand as `user*master`. After park() the connection stays for the idle time
// (a device that ends IDLE and carries on pays no reconnect), then is logged out.
//
// Sequence numbers: a backend connection numbers messages as it last told the device. While one
// connection serves the device nothing needs translating. When a new connection must take over
// while the device is SELECTED, the session restores what the device had (ENABLEd extensions, the
// selected mailbox) and reconciles: before retiring a connection it records the UIDs the device knows
// (a hidden UID SEARCH, which Dovecot answers from the connection's view, i.e. the device's), and
// after re-selecting it tells the device, ahead of its command's own responses, which of those are
// gone (EXPUNGE, highest number first, or VANISHED for QRESYNC) and how many messages there are now
// (EXISTS). The same happens when the edge told the device about changes itself during IDLE
// (view_added / view_removed): the old connection would report them again, so it is replaced.
//
// In-band events: when the device enters IDLE to be told of changes by the edge (park_for_events),
// the session reads the device's view off the parked connection the same way (hidden UID SEARCH) and
// keeps it in step with view_added / view_removed, so the edge can number what it tells the device.
//
// The session's own commands (restore, reconcile, view capture) never show on the device's stream.
//
// Threading: everything runs on the executor given at construction, the device connection's; no
// locks.

#include <pimap/deviceview/device_view.hpp>
#include <pimap/deviceview/mailbox_view.hpp>
#include "shared_capabilities.hpp"
#include "store_connection.hpp"
#include "store_gateway.hpp"

#include <pimap/imap/response.hpp>
#include <pimap/kit/log.hpp>

#include <prometheus/histogram.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <list>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pimap::edge {

// What every session of a pool shares (immutable after the pool is built).
struct StoreBackend {
  std::shared_ptr<const StoreEndpoint> endpoint;
  std::string master_user;
  std::string master_password;
  std::string master_separator = "*";  // Dovecot's auth_master_user_separator
  std::chrono::milliseconds idle_timeout{30'000};  // a parked connection is closed after this
  prometheus::Histogram* connect_seconds = nullptr;  // connect + TLS + greeting + login
  std::shared_ptr<const kit::Logger> log;
};

class PooledStoreSession final : public StoreSession, public std::enable_shared_from_this<PooledStoreSession> {
 public:
  PooledStoreSession(boost::asio::any_io_executor executor, std::shared_ptr<const StoreBackend> backend,
                     std::string user);
  ~PooledStoreSession() override;

  // Logs in as the user with `password` (used for this command only, never kept). On ok the
  // connection becomes the session's first backend connection and `done` gets the session.
  void authenticate(std::string password, std::function<void(StoreGateway::LoginResult)> done);
  // The first connection through the master user: for a session whose device proved itself some
  // other way (StoreGateway::resume). Any refusal is `unavailable`: the device did nothing wrong.
  void authenticate_as_master(std::function<void(StoreGateway::LoginResult)> done);
  // The device's address, sent to the store (ID x-originating-ip) before the credential check.
  void set_client_ip(std::string ip) { client_ip_ = std::move(ip); }

  void execute(std::string command, Untagged on_untagged, Done done) override;
  void park() override;
  void pause_output() override {
    if (conn_) conn_->pause_reading();
  }
  void resume_output() override {
    if (conn_) conn_->resume_reading();
  }
  void close() override;
  std::vector<std::string> capabilities() const override { return capabilities_ ? *capabilities_ : std::vector<std::string>{}; }
  void view_added(std::uint32_t uid) override;
  void view_removed(std::uint32_t uid) override;
  void park_for_events(std::function<void()> ready) override;
  const MailboxView* parked_view() const override;
  bool enabled(std::string_view atom) const override;
  std::optional<DeviceView> device_view() const override;
  std::optional<RenderFacts> render_facts() const override;
  void restore_device_view(const DeviceView& view) override;
  void close_with_view(std::function<void(std::optional<DeviceView>)> done) override;
  void fetch_aside(std::string uid_set, std::string attributes, OnFetch on_fetch,
                   std::function<void(bool ok)> done) override;

  // For tests and metrics: a backend connection is open.
  bool connected() const noexcept { return conn_ && conn_->usable(); }

 private:
  enum class Verb { other, select, examine, close, unselect };
  struct Pending {
    std::string command;
    Untagged on_untagged;
    Done done;
    Verb verb = Verb::other;
    std::string select_command;  // SELECT/EXAMINE: the form the session re-sends to restore it
    bool select_condstore = false;  // SELECT/EXAMINE with (CONDSTORE) or (QRESYNC ...)
  };
  struct Selected {
    std::string command;  // "SELECT INBOX\r\n" / "EXAMINE ..." as the session re-sends it
    std::optional<std::uint32_t> uidvalidity;
    std::uint64_t modseq_floor = 0;  // HIGHESTMODSEQ the device's SELECT reported (DeviceView::Mailbox)
    ShownModseqs shown_modseqs;      // MODSEQs above the floor its FETCH responses showed (likewise)
  };

  void pump();
  void begin(Pending p);
  void reopen(Pending p);
  void restore_enable(Pending p);
  void restore_select(Pending p);
  void reconcile_and_run(Pending p, MailboxView store, std::uint64_t store_exists,
                         std::optional<std::uint32_t> uidvalidity);
  void run(Pending p);
  bool lost(Pending& p);  // the session was closed under a running restore: finishes p
  void finish(Pending p, StoreResult result);
  void capture_then_retire(std::function<void()> then);
  void retire();
  // `side` set: the connection is put there instead of becoming the device's connection (conn_).
  using ConnSlot = std::shared_ptr<std::shared_ptr<StoreConnection>>;
  void open_connection(std::string login_user, std::string password, bool first,
                       std::function<void(StoreReply)> done, ConnSlot side = nullptr);
  std::string search_command() const;
  void on_unsolicited(const imap::Response& r);
  void track(const imap::Response& r);
  void arm_idle_timer();
  bool qresync() const;
  void enable(std::string_view atom);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<const StoreBackend> backend_;
  std::string user_;
  std::string client_ip_;
  std::shared_ptr<StoreConnection> conn_;
  boost::asio::steady_timer idle_timer_;
  std::uint64_t idle_generation_ = 0;
  std::list<Pending> queue_;  // not deque: an empty deque allocates ~600 bytes per idle session
  bool busy_ = false;
  bool parked_ = false;
  bool closed_ = false;
  Capabilities capabilities_;  // shared by every session that got the same list
  std::vector<std::string> enabled_;  // upper-case; what the device ENABLEd (CONDSTORE also when implied)
  std::optional<Selected> selected_;
  std::optional<std::uint32_t> seen_uidvalidity_;  // from the running SELECT's responses
  std::uint64_t seen_highestmodseq_ = 0;           // likewise
  // The device's view of the selected mailbox: while no backend connection backs it, and while
  // parked_for_events (then kept in step with deltas_).
  std::optional<MailboxView> view_;
  std::optional<std::uint64_t> device_exists_;  // message count the device was last told
  // Changes the edge told the device while a backend connection still backs its view.
  struct Delta {
    bool added = false;
    std::uint32_t uid = 0;
  };
  std::vector<Delta> deltas_;
  // Untagged responses the store sent while no device command ran; the device gets them, in order,
  // ahead of its next command's responses.
  std::vector<std::string> held_;
  std::size_t held_bytes_ = 0;
};

}  // namespace pimap::edge
