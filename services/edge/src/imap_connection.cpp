#include "imap_connection.hpp"

#include "capabilities.hpp"
#include "device_login.hpp"
#include "event_renderer.hpp"
#include "inband_delivery.hpp"
#include "sasl_plain.hpp"

#include <pimap/imap/serializer.hpp>
#include <pimap/net/error.hpp>

#include <boost/asio/post.hpp>

#include <array>
#include <utility>

namespace pimap::edge {

namespace {

using Clock = std::chrono::steady_clock;

// Pushes a connection holds while the device is not in IDLE; beyond this the device is told
// * RESYNC instead (it would have to read them all anyway, and a state comparison is cheaper).
constexpr std::size_t kMaxQueuedPushes = 256;

// Retries of a session-service write (checkpoint, forget): 200 ms doubling to 1 s. Short, because a
// call made while the service is down already waits for it (wait-for-ready, up to the call deadline),
// and until a write lands the device has no saved view to resume from (docs/protocol.md "Acks and
// checkpoints", window left).
std::chrono::milliseconds next_retry(std::chrono::milliseconds last) {
  using std::chrono::milliseconds;
  return std::min(milliseconds{1000}, std::max(milliseconds{200}, last * 2));
}

std::string_view state_name(bool idle, int state) {
  if (idle) return "idle";
  switch (state) {
    case 0: return "not_authenticated";
    case 1: return "authenticated";
    default: return "selected";
  }
}

std::string astring(std::string_view s) {
  std::string out;
  imap::Serializer(out).astring(s);
  return out;
}

std::string_view result_of(StoreStatus s) {
  switch (s) {
    case StoreStatus::ok: return "ok";
    case StoreStatus::no: return "no";
    case StoreStatus::bad: return "bad";
    case StoreStatus::unavailable: return "unavailable";
  }
  return "unavailable";
}

// Form in which a device command goes to the store: verbatim when it carries no literal, otherwise
// re-serialised with non-synchronising literals (the edge already collected the whole command, so the
// store must not ask for continuations).
std::string forward_form(const imap::Command& cmd) {
  if (cmd.raw.find('{') == std::string_view::npos) return std::string(cmd.raw_after_tag());
  std::string s = imap::serialize(cmd, {.literal_plus = true});
  const auto sp = s.find(' ');
  return sp == std::string::npos ? s : s.substr(sp + 1);
}

bool is_pimap_only(imap::CommandKind k) {
  using K = imap::CommandKind;
  return k == K::xsetpimappref || k == K::xgetpimappref || k == K::xfilter || k == K::xconvert ||
         k == K::xmacro;
}

}  // namespace

void ImapConnection::start(std::shared_ptr<net::Connection> conn, std::shared_ptr<const FrontContext> ctx) {
  auto self = std::make_shared<ImapConnection>(std::move(conn), std::move(ctx));
  self->greet();
}

ImapConnection::ImapConnection(std::shared_ptr<net::Connection> conn, std::shared_ptr<const FrontContext> ctx)
    : conn_(std::move(conn)), ctx_(std::move(ctx)), timer_(conn_->executor()), checkpoint_timer_(conn_->executor()),
      forget_timer_(conn_->executor()) {
  state_gauge_ = &ctx_->metrics->connections(ctx_->binding, "not_authenticated");
  state_gauge_->Increment();
}

ImapConnection::~ImapConnection() {
  // Exactly one state gauge counts this connection: idle while in IDLE, its IMAP state otherwise.
  if (idle_gauge_) {
    idle_gauge_->Decrement();
  } else if (state_gauge_) {
    state_gauge_->Decrement();
  }
  if (attached_ && ctx_->pushes) ctx_->pushes->detach(device_, session_id_, epoch_);
  const bool detach = !device_.device_id.empty() && !session_id_.empty() && state_ != State::logout;
  if (detach && store_ && !replaying_) {
    // The session lives on: the next edge replays over the device's view, which the store session
    // may have to read off its connection first.
    SessionCheckpoint last = checkpoint_now();
    last.view.clear();
    store_->close_with_view([ctx = ctx_, device = device_, id = session_id_, folder = selected_,
                             last = std::move(last)](std::optional<DeviceView> v) mutable {
      if (v && v->mailbox.has_value() == last.selected) {
        if (v->mailbox) v->mailbox->name = folder;
        last.view = encode_view(*v);
      }
      ctx->sessions->detach_with(device, id, std::move(last));
    });
  } else {
    if (store_) store_->close();
    if (detach) ctx_->sessions->detach_with(device_, session_id_, checkpoint_now());
  }
}

void ImapConnection::greet() {
  send("* OK [CAPABILITY " + capability_line() + "] pimap ready\r\n");
  arm_idle_timer();
  read();
}

void ImapConnection::send(std::string_view bytes) {
  if (closing_ && state_ != State::logout) return;
  if (capture_) {
    capture_->append(bytes);
    return;
  }
  boost::system::error_code ec;
  if (deflate_) {
    std::string z;
    if (!deflate_->deflate(bytes, z)) {
      conn_->abort();
      return;
    }
    ec = conn_->write(z);
  } else {
    ec = conn_->write(bytes);
  }
  if (ec) {
    if (ec == net::errc::slow_consumer) ctx_->metrics->slow_consumers.Increment();
    closing_ = true;
    conn_->abort();
  }
}

void ImapConnection::read() {
  if (reading_ || closing_) return;
  reading_ = true;
  conn_->async_read_some([self = shared_from_this()](boost::system::error_code ec,
                                                     std::span<const char> data) -> std::size_t {
    self->reading_ = false;
    if (ec) {
      self->closing_ = true;
      self->timer_.cancel();
      self->login_cancel_.emit(boost::asio::cancellation_type::terminal);  // a queued login leaves the gate
      return 0;
    }
    self->on_input(data);
    return data.size();
  });
}

void ImapConnection::on_input(std::span<const char> data) {
  arm_idle_timer();
  if (!parser_) parser_ = std::make_unique<imap::CommandParser>(ctx_->options.limits);
  if (deflate_) {
    std::string plain;
    if (!deflate_->inflate(std::string_view(data.data(), data.size()), plain)) {
      closing_ = true;
      conn_->abort();
      return;
    }
    parser_->feed(plain);
  } else {
    parser_->feed(std::string_view(data.data(), data.size()));
  }
  boost::asio::post(conn_->executor(), [self = shared_from_this()] { self->pump(); });
}

void ImapConnection::pump() {
  const bool awaiting_input = in_idle_ || !pending_name_.empty();
  while (!closing_ && parser_ && (!busy_ || in_idle_ || pending_name_ == "AUTHENTICATE")) {
    // Events being written between commands (PIMAP_INBAND_PUSH) go out before the next command starts.
    if (delivering_ && !in_idle_ && !busy_) break;
    imap::ParseEvent ev = parser_->next();
    if (std::holds_alternative<imap::NeedMore>(ev)) break;
    if (auto* cmd = std::get_if<imap::Command>(&ev)) {
      if (busy_) {  // a whole command while waiting for DONE / a SASL line cannot happen; be safe
        send(std::string(cmd->tag) + " BAD Command received while another is in progress\r\n");
        continue;
      }
      dispatch(*cmd);
    } else if (auto* lit = std::get_if<imap::LiteralContinuation>(&ev)) {
      (void)lit;
      send("+ Ready for literal data\r\n");
    } else if (std::holds_alternative<imap::IdleDone>(ev)) {
      on_idle_done();
    } else if (auto* sasl = std::get_if<imap::SaslResponse>(&ev)) {
      on_sasl(*sasl);
    } else if (auto* err = std::get_if<imap::ParseError>(&ev)) {
      ctx_->metrics->parse_errors.Increment();
      if (in_idle_ && err->code == imap::ErrorCode::expected_done) {
        // RFC 2177: anything but DONE ends the IDLE.
        in_idle_ = false;
        set_idle_gauge(false);
        busy_ = false;
        const std::string tag = std::exchange(pending_tag_, {});
        pending_name_.clear();
        send(tag + " BAD Expected DONE to end IDLE\r\n");
        ctx_->metrics->command("IDLE", "bad", 0);
        arm_idle_timer();
      } else {
        send(err->response());
      }
    }
  }
  (void)awaiting_input;
  if (closing_) return;
  // Between commands the parser holds nothing: drop it so an idle connection keeps no buffers.
  if (!busy_ && parser_ && parser_->idle() && parser_->buffered() == 0) parser_.reset();
  if (!busy_ || in_idle_ || pending_name_ == "AUTHENTICATE") read();
  if (!busy_ && (!pushes_.empty() || push_overflow_)) flush_pushes();  // PIMAP_INBAND_PUSH
}

void ImapConnection::finish(const imap::Command& cmd, std::string_view result, std::string line) {
  send(line);
  ctx_->metrics->command(imap::command_name(cmd.kind), result,
                         std::chrono::duration<double>(Clock::now() - command_start_).count());
  busy_ = false;
  if (xzip_ && cmd.tag == xzip_->inner_tag) return end_xzip(result);
  boost::asio::post(conn_->executor(), [self = shared_from_this()] { self->pump(); });
}

void ImapConnection::dispatch(const imap::Command& cmd) {
  using K = imap::CommandKind;
  command_start_ = Clock::now();
  if (view_ready_ || capturing_view_) {
    // The command may change what the device sees: its view is read again when events next wait.
    view_ready_ = false;
    capturing_view_ = false;
    ++idle_generation_;
  }
  const std::string tag(cmd.tag);
  auto bad = [&](std::string_view why) { finish(cmd, "bad", tag + " BAD " + std::string(why) + "\r\n"); };

  if (xzip_ && (cmd.kind == K::idle || cmd.kind == K::authenticate || cmd.kind == K::starttls ||
                cmd.kind == K::compress || cmd.kind == K::logout || cmd.kind == K::xzip)) {
    return bad("Command not allowed inside XZIP");
  }
  switch (cmd.kind) {
    case K::capability: return cmd_capability(cmd);
    case K::logout: return cmd_logout(cmd);
    case K::id: return cmd_id(cmd);
    case K::noop:
      if (state_ == State::selected && store_) return proxy(cmd);
      return finish(cmd, "ok", tag + " OK NOOP completed\r\n");
    default: break;
  }

  if (state_ == State::not_authenticated) {
    switch (cmd.kind) {
      case K::starttls: return cmd_starttls(cmd);
      case K::login: {
        const auto* l = cmd.as<imap::Login>();
        return cmd_login(cmd, std::string(l->user), std::string(l->password));
      }
      case K::authenticate: return cmd_authenticate(cmd);
      case K::other: return bad("Unknown command or not allowed before login");
      default: return bad("Command not allowed before login");
    }
  }

  switch (cmd.kind) {
    case K::starttls:
    case K::login:
    case K::authenticate: return bad("Already authenticated");
    case K::idle: return cmd_idle(cmd);
    case K::compress: return cmd_compress(cmd);
    case K::xprovision: return cmd_xprovision(cmd);
    case K::xzip: return cmd_xzip(cmd);
    case K::xsetpimappref:
    case K::xgetpimappref:
    case K::xfilter:
    case K::xconvert:
    case K::xmacro:
    case K::xdeliver:
      if (is_pimap_only(cmd.kind) && device_.device_id.empty()) {
        return finish(cmd, "no", tag + " NO [CANNOT] not a P-IMAP session\r\n");
      }
      if (cmd.kind == K::xsetpimappref) return cmd_xsetpref(cmd);
      if (cmd.kind == K::xgetpimappref) return cmd_xgetpref(cmd);
      // Not advertised: answered honestly instead of half-working.
      return finish(cmd, "no", tag + " NO [CANNOT] " + std::string(imap::command_name(cmd.kind)) +
                                   " is not available on this server\r\n");
    default: return proxy(cmd);
  }
}

std::string ImapConnection::capability_line() const {
  const bool tls = conn_->security() != net::Security::plaintext;
  if (state_ == State::not_authenticated) {
    return pre_auth_capabilities(tls, ctx_->starttls != nullptr, ctx_->options.allow_plaintext_login);
  }
  std::string caps = post_auth_capabilities(store_ ? store_->capabilities() : std::vector<std::string>{});
  if (ctx_->binding == "https") {  // HTTP content codings replace COMPRESS there (cmd_compress)
    if (const auto at = caps.find(" COMPRESS=DEFLATE"); at != std::string::npos) caps.erase(at, 17);
  }
  return caps;
}

void ImapConnection::cmd_capability(const imap::Command& cmd) {
  send("* CAPABILITY " + capability_line() + "\r\n");
  finish(cmd, "ok", std::string(cmd.tag) + " OK CAPABILITY completed\r\n");
}

void ImapConnection::cmd_id(const imap::Command& cmd) {
  send("* ID (\"name\" \"pimap\" \"vendor\" \"pimap\")\r\n");
  finish(cmd, "ok", std::string(cmd.tag) + " OK ID completed\r\n");
}

void ImapConnection::cmd_logout(const imap::Command& cmd) {
  send("* BYE pimap logging out\r\n");
  const std::string tag(cmd.tag);
  ctx_->metrics->command("LOGOUT", "ok", 0);
  if (!device_.device_id.empty() && !session_id_.empty()) ctx_->sessions->close(device_, session_id_);
  if (store_) {
    store_->close();
    store_.reset();
  }
  send(tag + " OK LOGOUT completed\r\n");
  set_state(State::logout);
  closing_ = true;
  timer_.cancel();
  conn_->close();
}

void ImapConnection::cmd_starttls(const imap::Command& cmd) {
  const std::string tag(cmd.tag);
  if (!ctx_->starttls || conn_->security() != net::Security::plaintext) {
    return finish(cmd, "bad", tag + " BAD STARTTLS not available\r\n");
  }
  if (parser_ && parser_->buffered() > 0) {
    // Pipelined plaintext after STARTTLS would be read as if it came over TLS (CVE-2011-0411).
    ctx_->metrics->starttls_injections.Increment();
    closing_ = true;
    conn_->abort();
    return;
  }
  send(tag + " OK Begin TLS negotiation now\r\n");
  ctx_->metrics->command("STARTTLS", "ok", 0);
  busy_ = true;
  parser_.reset();
  conn_->start_tls(*ctx_->starttls, [self = shared_from_this()](boost::system::error_code ec) {
    if (ec) {
      self->closing_ = true;
      return;
    }
    self->busy_ = false;
    self->arm_idle_timer();
    self->read();
  });
}

void ImapConnection::cmd_login(const imap::Command& cmd, std::string user, std::string password) {
  const std::string tag(cmd.tag);
  if (conn_->security() == net::Security::plaintext && !ctx_->options.allow_plaintext_login) {
    return finish(cmd, "no", tag + " NO [PRIVACYREQUIRED] Use STARTTLS or the implicit TLS port to log in\r\n");
  }
  busy_ = true;
  DeviceLogin dl = parse_login_name(user);
  ctx_->store->login(conn_->executor(), dl.store_user, std::move(password), conn_->peer().address().to_string(),
                     [self = shared_from_this(), cmd, dl](StoreGateway::LoginResult r) mutable {
                       self->after_login(cmd, std::move(r), dl.store_user, dl.device_id);
                     },
                     login_cancel_.slot());
  // The check may wait in the store pool's login queue: keep one read pending so that a device
  // hanging up meanwhile is noticed and gives its place back (pipelined input just waits in the parser).
  read();
}

void ImapConnection::after_login(const imap::Command& cmd, StoreGateway::LoginResult r, std::string user,
                                 std::string device_id) {
  const std::string tag(cmd.tag);
  if (closing_) return;
  if (r.status == StoreStatus::no) {
    ctx_->metrics->logins("failed").Increment();
    const auto delay = ctx_->throttle->failed(user, conn_->peer().address().to_string());
    // Not timer_: input the device sends meanwhile re-arms that one as the idle timer.
    auto pause = std::make_shared<boost::asio::steady_timer>(conn_->executor(), delay);
    pause->async_wait([self = shared_from_this(), cmd, tag, pause](boost::system::error_code ec) {
      if (ec || self->closing_) return;
      self->finish(cmd, "no", tag + " NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
      self->arm_idle_timer();
    });
    return;
  }
  if (r.status != StoreStatus::ok) {
    ctx_->metrics->logins("unavailable").Increment();
    return finish(cmd, "unavailable", tag + " NO [UNAVAILABLE] " +
                                          (r.text.empty() ? "Message store unavailable" : r.text) + "\r\n");
  }
  ctx_->throttle->succeeded(user);
  ctx_->metrics->logins("ok").Increment();
  store_ = std::move(r.session);
  device_ = DeviceRef{user, device_id};
  if (device_id.empty()) {
    set_state(State::authenticated);
    return finish(cmd, "ok", tag + " OK [CAPABILITY " + capability_line() + "] Logged in\r\n");
  }
  ctx_->sessions->open(
      conn_->executor(), device_, ctx_->binding == "https" ? "https" : "tcp", "",
      [self = shared_from_this(), cmd, tag](SessionOpen s) {
        if (self->closing_) return;
        if (!s.ok) {
          self->store_->close();
          self->store_.reset();
          return self->finish(cmd, "unavailable", tag + " NO [UNAVAILABLE] Session service unavailable\r\n");
        }
        auto complete = [self, cmd, tag] {
          self->finish(cmd, "ok", tag + " OK [CAPABILITY " + self->capability_line() + "] Logged in\r\n");
        };
        self->begin_session(std::move(s), std::move(complete));
      });
}

// Everything after the session service opened (or resumed) the device's session and the store session
// is ready: attach for in-band events, replay or RESYNC, `* SESSIONID`; `complete` then ends the login.
void ImapConnection::begin_session(SessionOpen s, std::function<void()> complete) {
  session_id_ = s.session_id;
  // --- in-band events: attach this connection to the edge stream ---
  epoch_ = s.epoch;
  // Acknowledged: what the session service had, until the replay of the rest is written.
  acked_seq_ = s.pending.empty() ? s.last_seq : s.pending.Get(0).seq() - 1;
  if (ctx_->pushes) {
    attached_ = true;
    ctx_->pushes->attach(device_, session_id_, s.last_seq, s.epoch, std::weak_ptr<PushTarget>(shared_from_this()));
  }
  // --- end in-band events ---
  // --- resume replay (profile §3; docs/protocol.md "Resume") ---
  new_format_ = s.inband_new_format;
  inband_push_ = s.inband_push;
  ResumePlan plan = plan_resume(s, *store_);
  if (s.resumed && s.selected) {
    selected_ = s.folder;
    set_state(State::selected);
  } else {
    set_state(State::authenticated);
  }
  // Told RESYNC for its folder: the store connection just goes back there.
  const bool select_silently = s.resumed && s.selected && !plan.view_restored;
  // Open marked the pending events pushed, so an edge lost between writing the replay and the
  // checkpoint after it leaves the next resume a scoped RESYNC instead of this replay again. Until the
  // replay is written no checkpoint or detach records the store session's view (it has the replay).
  replaying_ = true;
  write_with_new_format(
      store_, new_format_, std::move(plan.replay),
      [self = shared_from_this(), head = std::move(plan.head), id = s.session_id, select_silently,
       last_seq = s.last_seq, complete = std::move(complete)](std::string replay) {
        self->replaying_ = false;
        if (self->closing_) return;
        self->acked_seq_ = std::max(self->acked_seq_, last_seq);
        self->send(head + replay + "* SESSIONID " + id + "\r\n");
        if (!select_silently) {
          self->save_checkpoint();  // the view after the replay, acknowledged up to the last event
          return complete();
        }
        self->store_->execute("SELECT " + astring(self->selected_) + "\r\n", [](std::string_view) {},
                              [self, complete](StoreResult res) {
                                if (res.status != StoreStatus::ok) {
                                  self->selected_.clear();
                                  self->set_state(State::authenticated);
                                }
                                complete();
                              });
      });
  // --- end resume replay ---
}

void ImapConnection::start_resumed(std::shared_ptr<net::Connection> conn, std::shared_ptr<const FrontContext> ctx,
                                   std::string session_id, std::function<void(int status)> done) {
  auto self = std::make_shared<ImapConnection>(std::move(conn), std::move(ctx));
  self->resume_by_cookie(std::move(session_id), std::move(done));
}

namespace {

// Answers a cookie resume exactly once: a path that ends without answering (the connection closed
// under it: evicted, shut down) answers 503 when the last copy goes, so the HTTP request never hangs.
class ResumeReply {
 public:
  ResumeReply(boost::asio::any_io_executor ex, std::function<void(int)> done) : ex_(std::move(ex)), done_(std::move(done)) {}
  ResumeReply(const ResumeReply&) = delete;
  ResumeReply& operator=(const ResumeReply&) = delete;
  ~ResumeReply() {
    if (done_) boost::asio::post(ex_, [done = std::move(done_)] { done(503); });
  }
  void operator()(int status) {
    if (auto done = std::exchange(done_, {})) done(status);
  }

 private:
  boost::asio::any_io_executor ex_;
  std::function<void(int)> done_;
};

}  // namespace

void ImapConnection::resume_by_cookie(std::string session_id, std::function<void(int status)> reply) {
  // The cookie is a bearer credential: it may only travel over the HTTPS binding (always TLS).
  if (ctx_->binding != "https" || conn_->security() == net::Security::plaintext) {
    closing_ = true;
    conn_->close();
    return reply(401);
  }
  busy_ = true;
  auto done = std::make_shared<ResumeReply>(conn_->executor(), std::move(reply));
  auto fail = [self = shared_from_this(), done](int status) {
    if (self->store_) {
      self->store_->close();
      self->store_.reset();
    }
    self->closing_ = true;
    self->conn_->close();
    (*done)(status);
  };
  ctx_->sessions->open(
      conn_->executor(), DeviceRef{}, "https", std::move(session_id),
      [self = shared_from_this(), done, fail](SessionOpen s) mutable {
        if (self->closing_) return (*done)(503);
        if (!s.ok) return fail(s.not_found ? 401 : 503);
        if (!s.resumed || s.device.user.empty() || s.device.device_id.empty()) return fail(401);
        const std::string user = s.device.user;
        self->ctx_->store->resume(
            self->conn_->executor(), user, self->conn_->peer().address().to_string(),
            [self, done, fail, s = std::move(s)](StoreGateway::LoginResult r) mutable {
              if (self->closing_) return (*done)(503);
              // The session stays as it was: the device's next attempt (or login) resumes it.
              if (r.status != StoreStatus::ok) return fail(503);
              self->ctx_->metrics->logins("cookie").Increment();
              self->store_ = std::move(r.session);
              self->device_ = s.device;
              self->begin_session(std::move(s), [self, done] {
                self->busy_ = false;
                self->arm_idle_timer();
                self->read();
                (*done)(200);
              });
            });
      });
}

void ImapConnection::cmd_authenticate(const imap::Command& cmd) {
  const std::string tag(cmd.tag);
  const auto* a = cmd.as<imap::Authenticate>();
  if (!imap::iequals(a->mechanism, "PLAIN")) {
    return finish(cmd, "no", tag + " NO [CANNOT] Unsupported authentication mechanism\r\n");
  }
  if (conn_->security() == net::Security::plaintext && !ctx_->options.allow_plaintext_login) {
    return finish(cmd, "no", tag + " NO [PRIVACYREQUIRED] Use STARTTLS or the implicit TLS port to log in\r\n");
  }
  if (a->initial_response) {
    auto creds = decode_sasl_plain(*a->initial_response == "=" ? std::string_view{} : *a->initial_response);
    if (!creds) return finish(cmd, "bad", tag + " BAD Invalid SASL PLAIN response\r\n");
    return cmd_login(cmd, std::move(creds->user), std::move(creds->password));
  }
  busy_ = true;
  pending_tag_ = tag;
  pending_name_ = "AUTHENTICATE";
  pending_cmd_ = cmd;
  send("+ \r\n");
  if (!parser_) parser_ = std::make_unique<imap::CommandParser>(ctx_->options.limits);
  parser_->expect_sasl_response();
}

void ImapConnection::on_sasl(const imap::SaslResponse& resp) {
  const imap::Command cmd = std::move(*pending_cmd_);
  pending_cmd_.reset();
  const std::string tag = std::exchange(pending_tag_, {});
  pending_name_.clear();
  busy_ = false;
  if (resp.cancelled()) return finish(cmd, "bad", tag + " BAD Authentication cancelled\r\n");
  auto creds = decode_sasl_plain(resp.line);
  if (!creds) return finish(cmd, "bad", tag + " BAD Invalid SASL PLAIN response\r\n");
  cmd_login(cmd, std::move(creds->user), std::move(creds->password));
}

void ImapConnection::cmd_idle(const imap::Command& cmd) {
  busy_ = true;
  in_idle_ = true;
  pending_tag_ = std::string(cmd.tag);
  pending_name_ = "IDLE";
  pending_cmd_ = cmd;
  set_idle_gauge(true);
  send("+ idling\r\n");
  if (!parser_ || (parser_->idle() && parser_->buffered() == 0)) {
    parser_ = std::make_unique<imap::CommandParser>(ctx_->options.limits);
  }
  parser_->expect_idle_done();
  arm_idle_timer();
  // --- in-band events: flush what waited once the device's view is known ---
  view_ready_ = false;
  const auto generation = ++idle_generation_;
  auto ready = [weak = weak_from_this(), generation] {
    auto self = weak.lock();
    if (!self || !self->in_idle_ || generation != self->idle_generation_) return;
    self->view_ready_ = true;
    // A device that ran commands since the last checkpoint holds a view the session service does not
    // have yet; in IDLE the store session knows it again.
    if (!self->view_saved_) self->save_checkpoint();
    self->flush_pushes();
  };
  if (store_) {
    store_->park_for_events(std::move(ready));
  } else {
    boost::asio::post(conn_->executor(), std::move(ready));
  }
  // --- end in-band events ---
}

void ImapConnection::on_idle_done() {
  in_idle_ = false;
  view_ready_ = false;
  set_idle_gauge(false);
  if (delivering_) {
    idle_done_waiting_ = true;  // the events being fetched still belong inside the IDLE
    return;
  }
  complete_idle();
}

void ImapConnection::complete_idle() {
  idle_done_waiting_ = false;
  const imap::Command cmd = std::move(*pending_cmd_);
  pending_cmd_.reset();
  const std::string tag = std::exchange(pending_tag_, {});
  pending_name_.clear();
  arm_idle_timer();
  finish(cmd, "ok", tag + " OK IDLE terminated\r\n");
}

void ImapConnection::cmd_compress(const imap::Command& cmd) {
  const std::string tag(cmd.tag);
  const auto* c = cmd.as<imap::Compress>();
  if (ctx_->binding == "https") {  // the HTTP layer compresses (Content-Encoding, profile §9)
    return finish(cmd, "no", tag + " NO [CANNOT] COMPRESS is not available over HTTPS; use Accept-Encoding\r\n");
  }
  if (!imap::iequals(c->mechanism, "DEFLATE")) return finish(cmd, "bad", tag + " BAD Unknown compression\r\n");
  if (deflate_) return finish(cmd, "no", tag + " NO [COMPRESSIONACTIVE] Compression already active\r\n");
  if (parser_ && parser_->buffered() > 0) {
    // The client must wait for our OK before compressing; bytes after COMPRESS are ambiguous.
    finish(cmd, "bad", tag + " BAD Data pipelined after COMPRESS\r\n");
    closing_ = true;
    conn_->close();
    return;
  }
  auto codec = std::make_unique<DeflateCodec>();
  if (!codec->ok()) return finish(cmd, "no", tag + " NO Compression unavailable\r\n");
  finish(cmd, "ok", tag + " OK DEFLATE active\r\n");
  deflate_ = std::move(codec);
}

void ImapConnection::cmd_xprovision(const imap::Command& cmd) {
  send(xprovision_lines());
  finish(cmd, "ok", std::string(cmd.tag) + " OK XPROVISION completed\r\n");
}

void ImapConnection::cmd_xsetpref(const imap::Command& cmd) {
  const std::string tag(cmd.tag);
  std::vector<std::pair<std::string, std::string>> prefs;
  std::optional<std::string> new_format;  // this connection renders with it from the next event on
  std::optional<bool> inband_push;        // and pushes with it from the next command on
  for (const auto& p : cmd.as<imap::SetPimapPref>()->prefs) {
    std::string value(p.value.kind == imap::Arg::Kind::list ? p.value.raw : p.value.text);
    if (imap::iequals(p.name, "PIMAP_INBAND_NEW_FORMAT")) new_format = value;
    if (imap::iequals(p.name, "PIMAP_INBAND_PUSH")) inband_push = imap::iequals(value, "ON");
    prefs.emplace_back(std::string(p.name), std::move(value));
  }
  busy_ = true;
  ctx_->sessions->set_preferences(conn_->executor(), device_, std::move(prefs),
                                  [self = shared_from_this(), cmd, tag, new_format, inband_push](PrefResult r) {
                                    switch (r.status) {
                                      case PrefResult::Status::ok:
                                        if (new_format) self->new_format_ = *new_format;
                                        if (inband_push) self->inband_push_ = *inband_push;
                                        return self->finish(cmd, "ok", tag + " OK XSETPIMAPPREF completed\r\n");
                                      case PrefResult::Status::bad:
                                        return self->finish(cmd, "bad", tag + " BAD " + r.text + "\r\n");
                                      case PrefResult::Status::cannot:
                                        return self->finish(cmd, "no", tag + " NO [CANNOT] " + r.text + "\r\n");
                                      case PrefResult::Status::unavailable:
                                        return self->finish(cmd, "unavailable",
                                                            tag + " NO [UNAVAILABLE] Session service unavailable\r\n");
                                    }
                                  });
}

void ImapConnection::cmd_xgetpref(const imap::Command& cmd) {
  const std::string tag(cmd.tag);
  const auto* g = cmd.as<imap::GetPimapPref>();
  std::vector<std::string> names;
  for (auto n : g->names) names.emplace_back(n);
  const std::string word = g->plural ? "XGETPIMAPPREFS" : "XGETPIMAPPREF";
  busy_ = true;
  ctx_->sessions->get_preferences(
      conn_->executor(), device_, std::move(names), [self = shared_from_this(), cmd, tag, word](PrefResult r) {
        if (r.status == PrefResult::Status::bad) return self->finish(cmd, "bad", tag + " BAD " + r.text + "\r\n");
        if (r.status != PrefResult::Status::ok) {
          return self->finish(cmd, "unavailable", tag + " NO [UNAVAILABLE] Session service unavailable\r\n");
        }
        std::string line = "* " + word + " (";
        bool first = true;
        for (auto& [n, v] : r.prefs) {
          if (!first) line += ' ';
          first = false;
          line += n + ' ' + (v.empty() ? std::string("NIL") : v);
        }
        line += ")\r\n";
        self->send(line);
        self->finish(cmd, "ok", tag + " OK " + word + " completed\r\n");
      });
}

void ImapConnection::cmd_xzip(const imap::Command& cmd) {
  const auto* z = cmd.as<imap::Xzip>();
  xzip_ = std::make_unique<XzipState>();
  xzip_->outer = cmd;
  xzip_->inner_tag = std::string(z->inner->tag);
  capture_ = &xzip_->buffer;
  dispatch(*z->inner);
}

void ImapConnection::flush_xzip_block() {
  if (!xzip_ || xzip_->buffer.empty()) return;
  std::string z;
  xzip_->stream.deflate(xzip_->buffer, z);
  xzip_->buffer.clear();
  std::string* saved = std::exchange(capture_, nullptr);
  send("* XZIP ~{" + std::to_string(z.size()) + "}\r\n");
  send(z);
  send("\r\n");
  capture_ = saved;
}

void ImapConnection::end_xzip(std::string_view inner_result) {
  flush_xzip_block();
  capture_ = nullptr;
  auto state = std::move(xzip_);
  (void)inner_result;
  finish(state->outer, "ok", std::string(state->outer.tag) + " OK XZIP completed\r\n");
}

void ImapConnection::proxy(const imap::Command& cmd) {
  const std::string tag(cmd.tag);
  if (!store_) return finish(cmd, "no", tag + " NO [UNAVAILABLE] No store session\r\n");
  busy_ = true;
  // The store may tell the device things now that the saved view does not have: the session service
  // forgets it first, or an edge lost after the store's answer reached the device would have the
  // resume replay events over a view the device has moved on from.
  if (view_saved_) {
    // Holds the connection: while the command waits nothing else (no read) does. A session-service
    // restart delays the command by up to 10 s rather than leave a view the device has moved on from
    // (the fault test saw state comparisons made during a restart replayed over after an edge loss).
    return forget_then([self = shared_from_this(), cmd] { self->proxy_now(cmd); },
                       Clock::now() + std::chrono::seconds(10));
  }
  proxy_now(cmd);
}

void ImapConnection::forget_then(std::function<void()> next, std::chrono::steady_clock::time_point give_up) {
  forget_saved_view([self = shared_from_this(), next = std::move(next), give_up](bool stored) mutable {
    boost::asio::post(self->conn_->executor(), [self, stored, next = std::move(next), give_up]() mutable {
      if (self->closing_) return;
      if (stored || Clock::now() >= give_up) {
        self->forget_backoff_ = std::chrono::milliseconds{0};
        return next();
      }
      self->forget_backoff_ = next_retry(self->forget_backoff_);
      self->forget_timer_.expires_after(self->forget_backoff_);
      self->forget_timer_.async_wait([self, next = std::move(next), give_up](boost::system::error_code ec) mutable {
        if (ec || self->closing_) return;
        self->forget_then(std::move(next), give_up);
      });
    });
  });
}

void ImapConnection::proxy_now(const imap::Command& cmd) {
  const std::string tag(cmd.tag);
  auto self = shared_from_this();
  store_->execute(
      forward_form(cmd),
      [self](std::string_view raw) {
        self->send(raw);
        self->apply_backpressure();
        if (self->xzip_ && self->xzip_->buffer.size() >= 64 * 1024) self->flush_xzip_block();
      },
      [self, cmd, tag](StoreResult r) {
        using K = imap::CommandKind;
        if (self->closing_ && self->state_ != State::logout) return;
        if (r.status == StoreStatus::unavailable) {
          return self->finish(cmd, "unavailable",
                              tag + " NO [UNAVAILABLE] " + (r.text.empty() ? "Message store unavailable" : r.text) +
                                  "\r\n");
        }
        const bool was_selected = self->state_ == State::selected;
        const std::string was_folder = self->selected_;
        if (cmd.kind == K::select || cmd.kind == K::examine) {
          if (r.status == StoreStatus::ok) {
            self->selected_ = std::string(cmd.as<imap::Select>()->mailbox);
            self->set_state(State::selected);
          } else {
            self->selected_.clear();
            self->set_state(State::authenticated);
          }
        } else if ((cmd.kind == K::close || cmd.kind == K::unselect) && r.status == StoreStatus::ok) {
          self->selected_.clear();
          self->set_state(State::authenticated);
        }
        // The session service learns the new state now, not only at IDLE or detach: a device whose
        // next request reaches another edge (an HTTPS cookie) while this one still holds the session
        // resumes there in the state it is in (its view is unknown until IDLE: a scoped RESYNC).
        if ((self->state_ == State::selected) != was_selected || self->selected_ != was_folder) {
          self->forget_saved_view();
        }
        self->finish(cmd, result_of(r.status), tag + " " + r.text + "\r\n");
      });
}

void ImapConnection::apply_backpressure() {
  // A device that reads slower than the store answers must not make the edge hold the whole response:
  // past the high-water mark, stop reading from the store until the device has taken what is queued.
  constexpr std::size_t kHighWater = 256 * 1024;
  if (backpressured_ || capture_ || closing_ || !store_ || conn_->queued_output_bytes() < kHighWater) return;
  backpressured_ = true;
  store_->pause_output();
  arm_idle_timer();  // a device that never drains is dropped by the idle timeout, not held forever
  conn_->async_flush([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self) return;
    self->backpressured_ = false;
    if (ec || !self->store_) return;
    self->store_->resume_output();
  });
}

// pimap_edge_connections{state} partitions the connections: each one is counted once, under "idle"
// while it is in IDLE and under its IMAP state otherwise, so the states sum to the total.
void ImapConnection::set_state(State s) {
  if (s == state_) return;
  state_ = s;
  const bool counted_here = !idle_gauge_;
  if (state_gauge_ && counted_here) state_gauge_->Decrement();
  state_gauge_ = nullptr;
  if (s != State::logout) {
    state_gauge_ = &ctx_->metrics->connections(ctx_->binding, state_name(false, static_cast<int>(s)));
    if (counted_here) state_gauge_->Increment();
  }
}

void ImapConnection::set_idle_gauge(bool idle) {
  if (idle && !idle_gauge_) {
    if (state_gauge_) state_gauge_->Decrement();
    idle_gauge_ = &ctx_->metrics->connections(ctx_->binding, "idle");
    idle_gauge_->Increment();
  } else if (!idle && idle_gauge_) {
    idle_gauge_->Decrement();
    idle_gauge_ = nullptr;
    if (state_gauge_) state_gauge_->Increment();
  }
}

void ImapConnection::arm_idle_timer() {
  if (closing_) return;
  const auto limit = in_idle_ ? ctx_->options.idle_command_timeout : ctx_->options.idle_timeout;
  if (limit.count() <= 0) return;
  timer_.expires_after(limit);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->closing_) return;
    // A store command is running: its own timeout applies — unless it is stalled on the device.
    if (self->busy_ && !self->in_idle_ && !self->backpressured_) return;
    self->ctx_->metrics->idle_timeouts.Increment();
    self->close_with_bye("Autologout; idle for too long");
  });
}

// --- in-band events ---------------------------------------------------------------------------

boost::asio::any_io_executor ImapConnection::push_executor() { return conn_->executor(); }

void ImapConnection::on_push(v1::SessionPush push) {
  if (closing_ || session_id_.empty() || push.session_id() != session_id_) return;
  if (push.evicted()) {
    // The connection policy gave the device's session to another connection.
    attached_ = false;  // the session service already let go of this attachment
    return close_with_bye("Connection closed: replaced by a newer connection of this account (per-user connection limit or the same device again)");
  }
  if (push_overflow_ || pushes_.size() >= kMaxQueuedPushes) {
    for (const auto& p : pushes_) {
      for (const auto& q : p.events()) overflow_seq_ = std::max(overflow_seq_, q.seq());
    }
    for (const auto& q : push.events()) overflow_seq_ = std::max(overflow_seq_, q.seq());
    pushes_.clear();
    push_overflow_ = true;
  } else {
    pushes_.push_back(std::move(push));
  }
  flush_pushes();
}

namespace {

// Between commands (PIMAP_INBAND_PUSH) a push is told only if every line it renders may be sent while
// no command is in progress: RFC 3501 §7.4.1 forbids EXPUNGE (and RFC 7162 VANISHED) then, so an
// expunge of a message the device knows waits for its next command, and with it everything after it
// (events stay in order). So does an event of the selected mailbox whose view is unknown: outside IDLE
// the device's next command settles it at the store without the RESYNC that rendering it would cost.
bool can_tell_between_commands(const v1::SessionPush& push, const RenderOptions& options, const MailboxView* view) {
  if (push.resync()) return true;
  std::optional<MailboxView> after;  // the view as the earlier events of this push leave it
  for (const auto& q : push.events()) {
    const auto& e = q.event();
    const bool message_event = e.kind() == v1::StoreEvent::MESSAGE_NEW ||
                               e.kind() == v1::StoreEvent::MESSAGE_EXPUNGED ||
                               e.kind() == v1::StoreEvent::FLAGS_CHANGED;
    if (!message_event || options.selected.empty() || !same_mailbox(e.mailbox(), options.selected)) continue;
    if (view == nullptr) return false;
    if (options.uidvalidity != 0 && e.uidvalidity() != 0 && e.uidvalidity() != options.uidvalidity) continue;
    if (e.kind() == v1::StoreEvent::MESSAGE_NEW) {
      if (!after) after = *view;
      for (auto uid : e.uids()) after->add(uid);
    } else if (e.kind() == v1::StoreEvent::MESSAGE_EXPUNGED) {
      const MailboxView& v = after ? *after : *view;
      for (auto uid : e.uids()) {
        if (v.contains(uid)) return false;
      }
    }
  }
  return true;
}

}  // namespace

bool ImapConnection::pushes_between_commands() const {
  // Over HTTPS the long-lived response is the push channel (profile §10); XZIP captures output.
  return inband_push_ && ctx_->binding != "https" && state_ == State::selected && !busy_ && !in_idle_ && store_ &&
         pending_name_.empty() && !xzip_ && !closing_;
}

void ImapConnection::capture_view_between_commands() {
  if (capturing_view_) return;
  capturing_view_ = true;
  const auto generation = ++idle_generation_;
  store_->park_for_events([weak = weak_from_this(), generation] {
    auto self = weak.lock();
    if (!self || generation != self->idle_generation_) return;  // a command started meanwhile
    self->capturing_view_ = false;
    if (!self->pushes_between_commands()) return;
    self->view_ready_ = true;
    if (!self->view_saved_) self->save_checkpoint();
    self->flush_pushes();
  });
}

void ImapConnection::flush_pushes() {
  if (closing_ || capture_ != nullptr || delivering_) return;
  if (pushes_.empty() && !push_overflow_) return;
  const bool between_commands = !in_idle_;
  if (between_commands) {
    if (!pushes_between_commands()) return;
    if (!view_ready_) return capture_view_between_commands();
  } else if (!view_ready_) {
    return;
  }
  RenderOptions options;
  if (state_ == State::selected) options.selected = selected_;
  options.qresync = store_ && store_->enabled("QRESYNC");
  options.condstore = store_ && store_->enabled("CONDSTORE");
  std::optional<MailboxView> view;
  if (store_ && state_ == State::selected) {
    if (const MailboxView* v = store_->parked_view()) view = *v;
    if (auto facts = store_->render_facts()) {  // used only while rendering, below
      options.uidvalidity = facts->uidvalidity;
      options.modseq_floor = facts->modseq_floor;
      options.shown_modseqs = facts->shown;
    }
  }
  Rendered all;
  std::uint64_t seq = 0;
  if (push_overflow_) {
    all.lines += "* RESYNC\r\n";
    seq = overflow_seq_;
    push_overflow_ = false;
  }
  auto told = pushes_.begin();
  for (; told != pushes_.end(); ++told) {
    const auto& p = *told;
    if (between_commands && !can_tell_between_commands(p, options, view ? &*view : nullptr)) break;
    if (p.resync()) {
      all.lines += render_push(p, options, nullptr).lines;
    } else {
      render_events(p.events(), options, view ? &*view : nullptr, all);
    }
    for (const auto& q : p.events()) seq = std::max(seq, q.seq());
  }
  pushes_.erase(pushes_.begin(), told);
  if (seq == 0 && all.lines.empty()) return;  // all of it waits for the device's next command
  delivering_ = true;
  // No call on this path: the session service marked these events pushed before sending them
  // (sessionstore scripts::mark_pushed), so if this edge dies after writing them and before the
  // checkpoint below, the resume is a scoped RESYNC, not a replay of them.
  auto changes = std::move(all.changes);  // write_with_new_format does not read them
  write_with_new_format(store_, new_format_, std::move(all),
                        [weak = weak_from_this(), seq, changes = std::move(changes)](std::string lines) {
    auto self = weak.lock();
    if (!self) return;
    self->delivering_ = false;
    if (self->closing_) return;
    // The store session's view (and every checkpoint taken from it) moves with the write, not with
    // the rendering: a connection lost before this point detaches with the view and seq from before.
    if (self->store_) {
      for (const auto& c : changes) {
        if (c.added) self->store_->view_added(c.uid);
        else self->store_->view_removed(c.uid);
      }
    }
    if (!lines.empty()) self->send(lines);
    const bool advanced = seq > self->acked_seq_;
    if (advanced) self->acked_seq_ = seq;
    if (self->idle_done_waiting_) {
      if (advanced) self->save_checkpoint();
      return self->complete_idle();
    }
    self->flush_pushes();  // what arrived meanwhile
    // Inside a burst the next write has started: its own checkpoint covers this one too.
    if (advanced && !self->delivering_) self->save_checkpoint();
    // A command that came while events were written between commands starts now.
    if (!self->in_idle_ && !self->busy_ && !self->delivering_) {
      boost::asio::post(self->conn_->executor(), [self] { self->pump(); });
    }
  });
}

SessionCheckpoint ImapConnection::checkpoint_now() {
  SessionCheckpoint cp;
  cp.selected = state_ == State::selected;
  if (cp.selected) cp.folder = selected_;
  cp.acked_seq = acked_seq_;
  cp.epoch = epoch_;
  cp.view_version = ++view_version_;
  std::optional<DeviceView> v = store_ && !replaying_ ? store_->device_view() : std::nullopt;
  // The store session's selection and the connection's agree unless a SELECT failed under it.
  if (v && v->mailbox.has_value() == cp.selected) {
    if (v->mailbox) v->mailbox->name = selected_;
    cp.view = encode_view(*v);
  }
  view_saved_ = !cp.view.empty();
  return cp;
}

void ImapConnection::save_checkpoint() {
  if (device_.device_id.empty() || session_id_.empty() || closing_) return;
  send_checkpoint(checkpoint_now());
}

void ImapConnection::send_checkpoint(SessionCheckpoint cp, std::function<void(bool stored)> answered) {
  const auto sent = ++checkpoints_sent_;
  ctx_->sessions->checkpoint(device_, session_id_, std::move(cp),
                             [weak = weak_from_this(), ex = conn_->executor(), sent,
                              answered = std::move(answered)](bool stored) mutable {
    if (answered) answered(stored);
    boost::asio::post(ex, [weak, sent, stored] {
      auto self = weak.lock();
      if (!self || self->closing_ || sent != self->checkpoints_sent_) return;
      if (stored) {
        self->checkpoint_backoff_ = std::chrono::milliseconds{0};
        return;
      }
      self->retry_checkpoint();
    });
  });
}

void ImapConnection::retry_checkpoint() {
  checkpoint_backoff_ = next_retry(checkpoint_backoff_);
  checkpoint_timer_.expires_after(checkpoint_backoff_);
  checkpoint_timer_.async_wait([weak = weak_from_this(), sent = checkpoints_sent_](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->closing_ || sent != self->checkpoints_sent_) return;
    // The state now: a view forgotten since stays forgotten (checkpoint_now sends no view then).
    if (self->view_saved_) {
      self->save_checkpoint();
    } else {
      self->forget_saved_view();
    }
  });
}

void ImapConnection::forget_saved_view(std::function<void(bool stored)> answered) {
  if (device_.device_id.empty() || session_id_.empty()) {
    if (answered) answered(true);  // nothing saved to forget
    return;
  }
  SessionCheckpoint cp;
  cp.selected = state_ == State::selected;
  if (cp.selected) cp.folder = selected_;
  cp.acked_seq = acked_seq_;
  cp.epoch = epoch_;
  cp.view_version = ++view_version_;
  view_saved_ = false;
  send_checkpoint(std::move(cp), std::move(answered));
}

// --- end in-band events ------------------------------------------------------------------------

void ImapConnection::close_with_bye(std::string_view text) {
  send("* BYE " + std::string(text) + "\r\n");
  closing_ = true;
  conn_->close();
}

}  // namespace pimap::edge
