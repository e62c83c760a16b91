#include "imap_connection.hpp"

#include "capabilities.hpp"
#include "device_login.hpp"
#include "event_renderer.hpp"
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
    : conn_(std::move(conn)), ctx_(std::move(ctx)), timer_(conn_->executor()) {
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
  if (store_) store_->close();
  if (attached_ && ctx_->pushes) ctx_->pushes->detach(device_, session_id_, epoch_);
  if (!device_.device_id.empty() && !session_id_.empty() && state_ != State::logout) {
    ctx_->sessions->detach(device_, session_id_, state_ == State::selected, selected_, acked_seq_);
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
  return post_auth_capabilities(store_ ? store_->capabilities() : std::vector<std::string>{});
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
                     });
}

void ImapConnection::after_login(const imap::Command& cmd, StoreGateway::LoginResult r, std::string user,
                                 std::string device_id) {
  const std::string tag(cmd.tag);
  if (closing_) return;
  if (r.status == StoreStatus::no) {
    ctx_->metrics->logins("failed").Increment();
    const auto delay = ctx_->throttle->failed(user, conn_->peer().address().to_string());
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this(), cmd, tag](boost::system::error_code ec) {
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
      conn_->executor(), device_, "tcp", "", [self = shared_from_this(), cmd, tag](SessionOpen s) {
        if (self->closing_) return;
        if (!s.ok) {
          self->store_->close();
          self->store_.reset();
          return self->finish(cmd, "unavailable", tag + " NO [UNAVAILABLE] Session service unavailable\r\n");
        }
        self->session_id_ = s.session_id;
        // --- in-band events: attach this connection to the edge stream ---
        self->epoch_ = s.epoch;
        self->acked_seq_ = s.last_seq;
        if (self->ctx_->pushes) {
          self->attached_ = true;
          self->ctx_->pushes->attach(self->device_, self->session_id_, s.last_seq, s.epoch,
                                     std::weak_ptr<PushTarget>(self));
        }
        // --- end in-band events ---
        std::string lines;
        if (s.resumed) {
          lines += s.selected ? "* SESSION SELECTED\r\n" : "* SESSION AUTHENTICATED\r\n";
          if (s.selected) lines += "* FOLDER " + astring(s.folder) + "\r\n";
          if (s.resync) {
            if (!s.resync_folder.empty() && s.resync_folder != s.folder) {
              lines += "* FOLDER " + astring(s.resync_folder) + "\r\n";
            }
            lines += "* RESYNC\r\n";
          } else {
            for (auto& l : s.pending_lines) lines += l;
          }
        }
        lines += "* SESSIONID " + s.session_id + "\r\n";
        self->send(lines);
        auto complete = [self, cmd, tag] {
          self->finish(cmd, "ok", tag + " OK [CAPABILITY " + self->capability_line() + "] Logged in\r\n");
        };
        if (s.resumed && s.selected) {
          // Put the store connection back where the device left it; the device already has the state.
          self->selected_ = s.folder;
          self->set_state(State::selected);
          self->store_->execute("SELECT " + astring(s.folder) + "\r\n", [](std::string_view) {},
                                [self, complete](StoreResult res) {
                                  if (res.status != StoreStatus::ok) self->set_state(State::authenticated);
                                  complete();
                                });
          return;
        }
        self->set_state(State::authenticated);
        complete();
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
  for (const auto& p : cmd.as<imap::SetPimapPref>()->prefs) {
    std::string value(p.value.kind == imap::Arg::Kind::list ? p.value.raw : p.value.text);
    prefs.emplace_back(std::string(p.name), std::move(value));
  }
  busy_ = true;
  ctx_->sessions->set_preferences(conn_->executor(), device_, std::move(prefs),
                                  [self = shared_from_this(), cmd, tag](PrefResult r) {
                                    switch (r.status) {
                                      case PrefResult::Status::ok:
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

void ImapConnection::on_push(const v1::SessionPush& push) {
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
    pushes_.push_back(push);
  }
  flush_pushes();
}

void ImapConnection::flush_pushes() {
  if (!in_idle_ || !view_ready_ || closing_ || capture_ != nullptr) return;
  if (pushes_.empty() && !push_overflow_) return;
  RenderOptions options;
  if (state_ == State::selected) options.selected = selected_;
  options.qresync = store_ && store_->enabled("QRESYNC");
  options.condstore = store_ && store_->enabled("CONDSTORE");
  std::optional<MailboxView> view;
  if (store_ && state_ == State::selected) {
    if (const MailboxView* v = store_->parked_view()) view = *v;
  }
  std::string out;
  std::uint64_t seq = 0;
  if (push_overflow_) {
    out += "* RESYNC\r\n";
    seq = overflow_seq_;
    push_overflow_ = false;
  }
  for (const auto& p : pushes_) {
    Rendered r = render_push(p, options, view ? &*view : nullptr);
    out += r.lines;
    for (const auto& c : r.changes) {
      if (c.added) store_->view_added(c.uid);
      else store_->view_removed(c.uid);
    }
    for (const auto& q : p.events()) seq = std::max(seq, q.seq());
  }
  pushes_.clear();
  if (!out.empty()) send(out);
  if (seq > acked_seq_ && !closing_) {
    acked_seq_ = seq;
    ctx_->sessions->ack(device_, session_id_, seq);
  }
}

// --- end in-band events ------------------------------------------------------------------------

void ImapConnection::close_with_bye(std::string_view text) {
  send("* BYE " + std::string(text) + "\r\n");
  closing_ = true;
  conn_->close();
}

}  // namespace pimap::edge
