#pragma once
// One device connection on the TCP binding: the IMAP state machine of RFC 3501 with the P-IMAP
// additions (profile §2, §3, §5, §6, §9, §14).
//
// The edge answers itself what needs no store (CAPABILITY, NOOP, LOGOUT, STARTTLS, ID, IDLE,
// COMPRESS, XZIP, P-IMAP commands) and proxies every other command, one at a time in the order the
// device sent them, through the user's StoreSession. Commands the device pipelines wait in the parser;
// the socket is not read while a command runs, so a client cannot make the edge buffer without bound.
// A bad command is answered `BAD <reason>` and the connection carries on.

#include "auth_throttle.hpp"
#include "deflate_codec.hpp"
#include "edge_metrics.hpp"
#include "edge_stream_client.hpp"
#include "session_gateway.hpp"
#include "store_gateway.hpp"

#include <pimap/imap/command_parser.hpp>
#include <pimap/kit/log.hpp>
#include <pimap/net/connection.hpp>
#include <pimap/net/tls_context.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pimap::edge {

struct FrontOptions {
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(30)};       // no command, not in IDLE
  std::chrono::milliseconds idle_command_timeout{std::chrono::minutes(29)};  // IDLE without traffic
  bool allow_plaintext_login = false;  // LOGIN/AUTHENTICATE before STARTTLS (tests only)
  imap::ParserLimits limits;
};

// Shared by every connection of one listener; outlives them (held by shared_ptr).
struct FrontContext {
  std::string binding;                           // "imap" (plain + STARTTLS) or "imaps"
  const net::TlsContext* starttls = nullptr;     // null: STARTTLS not offered
  FrontOptions options;
  StoreGateway* store = nullptr;
  SessionGateway* sessions = nullptr;
  EdgeStreamClient* pushes = nullptr;  // null: no in-band events (tests)
  AuthThrottle* throttle = nullptr;
  EdgeMetrics* metrics = nullptr;
  const kit::Logger* log = nullptr;
};

class ImapConnection : public std::enable_shared_from_this<ImapConnection>, public PushTarget {
 public:
  // `tls_done`: the connection already completed implicit TLS (or will via start_tls before this).
  static void start(std::shared_ptr<net::Connection> conn, std::shared_ptr<const FrontContext> ctx);
  // No greeting, no login: the HTTPS binding's PIMAPSESSION cookie (a bearer credential, TLS only)
  // names a live P-IMAP session this edge does not hold. The session service resumes it and the
  // store session is opened through the master user; the connection then says what a resumed login
  // says (`* SESSION ...`, replay or RESYNC, `* SESSIONID`) and reads commands. `done` gets 200, 401
  // (unknown or expired session) or 503 (session service or store unavailable; the connection is
  // closed for anything but 200).
  static void start_resumed(std::shared_ptr<net::Connection> conn, std::shared_ptr<const FrontContext> ctx,
                            std::string session_id, std::function<void(int status)> done);

  ImapConnection(std::shared_ptr<net::Connection> conn, std::shared_ptr<const FrontContext> ctx);
  ~ImapConnection() override;

  // In-band events (profile §4; docs/protocol.md "In-band events").
  boost::asio::any_io_executor push_executor() override;
  void on_push(v1::SessionPush push) override;

 private:
  enum class State { not_authenticated, authenticated, selected, logout };

  void greet();
  void read();
  void on_input(std::span<const char> data);
  void pump();
  void dispatch(const imap::Command& cmd);
  void finish(const imap::Command& cmd, std::string_view result, std::string line);

  // Commands answered by the edge.
  void cmd_capability(const imap::Command& cmd);
  void cmd_logout(const imap::Command& cmd);
  void cmd_starttls(const imap::Command& cmd);
  void cmd_login(const imap::Command& cmd, std::string user, std::string password);
  void cmd_authenticate(const imap::Command& cmd);
  void cmd_idle(const imap::Command& cmd);
  void cmd_compress(const imap::Command& cmd);
  void cmd_id(const imap::Command& cmd);
  void cmd_xprovision(const imap::Command& cmd);
  void cmd_xsetpref(const imap::Command& cmd);
  void cmd_xgetpref(const imap::Command& cmd);
  void cmd_xzip(const imap::Command& cmd);
  void proxy(const imap::Command& cmd);
  void proxy_now(const imap::Command& cmd);
  // Has the session service forget the saved view, then runs `next`; while it cannot store that (it is
  // restarting: its channel comes back after a reconnect backoff) it asks again every 200 ms to 1 s,
  // and after `give_up` runs `next` anyway (availability over the window in docs/protocol.md).
  void forget_then(std::function<void()> next, std::chrono::steady_clock::time_point give_up);

  void flush_xzip_block();
  void end_xzip(std::string_view inner_result);
  void on_sasl(const imap::SaslResponse& resp);
  void on_idle_done();
  void after_login(const imap::Command& cmd, StoreGateway::LoginResult result, std::string user,
                   std::string device_id);
  void begin_session(SessionOpen opened, std::function<void()> complete);
  void resume_by_cookie(std::string session_id, std::function<void(int status)> done);

  std::string capability_line() const;
  void send(std::string_view bytes);
  void apply_backpressure();
  void set_state(State s);
  void set_idle_gauge(bool idle);
  void close_with_bye(std::string_view text);
  void arm_idle_timer();
  void flush_pushes();
  // PIMAP_INBAND_PUSH ON (profile §4): between commands in SELECTED state the device is told of
  // changes as if it were in IDLE. Reading its view off the store costs a round trip, so it is done
  // only when an event is waiting (capture_view_between_commands), and forgotten when a command starts.
  bool pushes_between_commands() const;
  void capture_view_between_commands();
  void complete_idle();
  // The device's state and view now, for the session service (see save_checkpoint).
  SessionCheckpoint checkpoint_now();
  // Records state + view with the acknowledgement, so whichever edge resumes the session next can
  // replay over it; forget_saved_view() tells the session service the saved view no longer holds.
  void save_checkpoint();
  // `answered` (optional) runs once the session service answered this one, with whether it stored it.
  void forget_saved_view(std::function<void(bool stored)> answered = {});
  // Sends a checkpoint; one the session service did not take (it was restarting, Redis was down) is
  // sent again, as the state is then, with backoff, unless a newer one went out meanwhile: otherwise
  // the stored acknowledgement stays behind what the device read until the device's next event, and
  // an edge lost before that makes the resume replay it (found by test_push_faults.py, issue #5).
  void send_checkpoint(SessionCheckpoint cp, std::function<void(bool stored)> answered = {});
  void retry_checkpoint();

  std::shared_ptr<net::Connection> conn_;
  std::shared_ptr<const FrontContext> ctx_;
  std::unique_ptr<imap::CommandParser> parser_;
  std::unique_ptr<DeflateCodec> deflate_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer checkpoint_timer_;
  boost::asio::steady_timer forget_timer_;
  std::chrono::milliseconds forget_backoff_{0};
  std::uint64_t checkpoints_sent_ = 0;              // the newest one wins; older failures are moot
  std::chrono::milliseconds checkpoint_backoff_{0};  // 0: the last one was stored
  State state_ = State::not_authenticated;
  bool busy_ = false;       // a command is running; don't take the next one
  bool reading_ = false;
  bool in_idle_ = false;
  bool closing_ = false;
  bool backpressured_ = false;  // the store is paused until the device drains its output
  // XZIP (profile §9): the inner command's responses are captured, deflated and sent as * XZIP blocks.
  struct XzipState {
    imap::Command outer;
    std::string inner_tag;
    std::string buffer;
    DeflateStream stream;
  };
  std::unique_ptr<XzipState> xzip_;
  std::string* capture_ = nullptr;  // XZIP: responses of the inner command go here
  std::optional<imap::Command> pending_cmd_;  // AUTHENTICATE / IDLE waiting for client input
  std::string pending_tag_;         // AUTHENTICATE / IDLE in progress
  std::string pending_name_;
  std::chrono::steady_clock::time_point command_start_{};

  boost::asio::cancellation_signal login_cancel_;  // emitted when the device goes away
  std::shared_ptr<StoreSession> store_;
  DeviceRef device_;                // device_id empty: plain IMAP session
  std::string session_id_;
  std::string selected_;
  // In-band events: pushes wait here until the device is in IDLE (or, with PIMAP_INBAND_PUSH ON,
  // between commands with a folder selected) and its view is known, then are rendered and acked.
  // Past kMaxQueuedPushes they are dropped for a single * RESYNC.
  std::uint64_t epoch_ = 0;
  bool attached_ = false;
  std::list<v1::SessionPush> pushes_;  // not deque: an empty deque allocates ~600 bytes
  bool push_overflow_ = false;
  std::uint64_t overflow_seq_ = 0;  // highest seq dropped by the overflow
  std::uint64_t acked_seq_ = 0;
  bool view_ready_ = false;         // in IDLE and the store session knows the device's view
  bool delivering_ = false;         // rendered events wait for their NEW_FORMAT FETCH
  bool idle_done_waiting_ = false;  // DONE came while delivering: the IDLE ends after the events
  std::string new_format_;          // PIMAP_INBAND_NEW_FORMAT of this device
  bool inband_push_ = false;        // PIMAP_INBAND_PUSH ON
  bool capturing_view_ = false;     // between commands: the store session is reading the view
  std::uint64_t view_version_ = 0;  // orders this connection's checkpoints
  bool view_saved_ = false;         // the session service holds the device's current view
  // A resume's replay is being written: the store session's view already has it, the device may not,
  // so no checkpoint or detach may record that view until the write is done.
  bool replaying_ = false;
  std::uint64_t idle_generation_ = 0;
  prometheus::Gauge* state_gauge_ = nullptr;
  prometheus::Gauge* idle_gauge_ = nullptr;
};

}  // namespace pimap::edge
