#include "store_session.hpp"

#include <pimap/imap/command_parser.hpp>
#include <pimap/imap/response_reader.hpp>
#include <pimap/imap/serializer.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cctype>
#include <utility>

namespace pimap::edge {

namespace {

using Clock = std::chrono::steady_clock;

// The store may send this much unsolicited output between two device commands before the session
// gives up on relaying it and reconciles through a fresh connection instead.
constexpr std::size_t kMaxHeldBytes = 1024 * 1024;

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool has(const std::vector<std::string>& atoms, std::string_view atom) {
  return std::find(atoms.begin(), atoms.end(), atom) != atoms.end();
}

void post_done(const boost::asio::any_io_executor& ex, StoreSession::Done done, StoreResult r) {
  if (!done) return;
  boost::asio::post(ex, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

}  // namespace

PooledStoreSession::PooledStoreSession(boost::asio::any_io_executor executor,
                                       std::shared_ptr<const StoreBackend> backend, std::string user)
    : executor_(executor), backend_(std::move(backend)), user_(std::move(user)), idle_timer_(executor) {}

PooledStoreSession::~PooledStoreSession() {
  if (conn_) conn_->logout();
}

// --- login -------------------------------------------------------------------------------------

void PooledStoreSession::authenticate(std::string password, std::function<void(StoreGateway::LoginResult)> done) {
  open_connection(user_, std::move(password), true, [self = shared_from_this(), done = std::move(done)](StoreReply r) {
    StoreGateway::LoginResult out;
    out.text = r.text;
    if (r.status == StoreStatus::ok) {
      out.status = StoreStatus::ok;
      out.session = self;
    } else if (r.status == StoreStatus::unavailable || r.code == "UNAVAILABLE" || r.code == "SERVERBUG") {
      // The store could not check (auth backend down, overload): not the user's fault.
      out.status = StoreStatus::unavailable;
      if (r.status != StoreStatus::unavailable) out.text = "Message store cannot check credentials now";
      self->backend_->log->warn("store login unavailable", {{"reason", r.text}});
    } else {
      out.status = StoreStatus::no;  // NO [AUTHENTICATIONFAILED], other NO, or BAD for odd names
    }
    done(std::move(out));
  });
}

void PooledStoreSession::authenticate_as_master(std::function<void(StoreGateway::LoginResult)> done) {
  open_connection(user_ + backend_->master_separator + backend_->master_user, backend_->master_password, true,
                  [self = shared_from_this(), done = std::move(done)](StoreReply r) {
                    StoreGateway::LoginResult out;
                    out.text = r.text;
                    if (r.status == StoreStatus::ok) {
                      out.status = StoreStatus::ok;
                      out.session = self;
                    } else {
                      out.status = StoreStatus::unavailable;
                      if (r.status != StoreStatus::unavailable) out.text = "Message store refused the session";
                      self->backend_->log->warn("store refused the master login", {{"reason", r.text}});
                    }
                    done(std::move(out));
                  });
}

void PooledStoreSession::open_connection(std::string login_user, std::string password, bool first,
                                         std::function<void(StoreReply)> done, ConnSlot side) {
  auto conn = StoreConnection::create(executor_, backend_->endpoint);
  const auto start = Clock::now();
  conn->open([self = shared_from_this(), conn, login_user = std::move(login_user), password = std::move(password),
              first, done = std::move(done), start, side](StoreReply greeting) mutable {
    if (greeting.status != StoreStatus::ok) {
      self->backend_->log->warn("store unavailable", {{"reason", greeting.text}});
      std::fill(password.begin(), password.end(), '\0');
      return done(std::move(greeting));
    }
    const bool literal_plus = has(greeting.capabilities, "LITERAL+");
    auto send_login = [self, conn, login_user = std::move(login_user), password = std::move(password), first,
                       done = std::move(done), start, literal_plus, side]() mutable {
    std::string login = "LOGIN ";
    imap::Serializer(login, {.literal_plus = literal_plus})
        .astring(login_user)
        .sp()
        .astring(password)
        .crlf();
    std::fill(password.begin(), password.end(), '\0');
    password.clear();
    conn->command(
        std::move(login), {},
        [self, conn, first, done = std::move(done), start, side](StoreReply r) mutable {
          if (r.status != StoreStatus::ok) {
            conn->abort();
            return done(std::move(r));
          }
          if (self->backend_->connect_seconds) {
            self->backend_->connect_seconds->Observe(std::chrono::duration<double>(Clock::now() - start).count());
          }
          auto adopt = [self, conn, first, side](std::vector<std::string> caps) {
            if (first) self->capabilities_ = share_capabilities(std::move(caps));
            if (side) {  // a connection of the session's own, never the device's
              *side = conn;
              return;
            }
            self->conn_ = conn;
            conn->set_unsolicited([weak = std::weak_ptr<PooledStoreSession>(self)](const imap::Response& u) {
              if (auto s = weak.lock()) s->on_unsolicited(u);
            });
          };
          if (!r.capabilities.empty() || !first) {
            adopt(std::move(r.capabilities));
            return done(std::move(r));
          }
          // The store did not put its capabilities in the login response: ask.
          auto caps = std::make_shared<std::vector<std::string>>();
          conn->command(
              "CAPABILITY\r\n",
              [caps](const imap::Response& u) {
                if (u.untagged != imap::UntaggedKind::capability) return;
                for (auto a : u.atoms) caps->push_back(upper(a));
              },
              [conn, adopt, caps, done = std::move(done), r = std::move(r)](StoreReply c) mutable {
                if (c.status == StoreStatus::unavailable) return done(std::move(c));
                adopt(std::move(*caps));
                done(std::move(r));
              });
        },
        first ? self->backend_->endpoint->login_timeout : self->backend_->endpoint->connect_timeout);
    };
    if (!first || self->client_ip_.empty()) return send_login();
    // Tell the store who is really logging in (RFC 2971 ID, Dovecot's x-originating-ip, honoured for
    // login_trusted_networks), so its failed-login penalties hit the device, not every device behind
    // this edge. The answer does not matter: a store that ignores ID still checks the password.
    std::string id = "ID (\"x-originating-ip\" ";
    imap::Serializer(id).string(self->client_ip_);
    id += ")\r\n";
    conn->command(std::move(id), {}, [send_login](StoreReply) mutable { send_login(); },
                  self->backend_->endpoint->connect_timeout);
  });
}

// --- StoreSession ------------------------------------------------------------------------------

void PooledStoreSession::execute(std::string command, Untagged on_untagged, Done done) {
  if (closed_) return post_done(executor_, std::move(done), {StoreStatus::unavailable, "Store session closed"});
  parked_ = false;
  ++idle_generation_;
  idle_timer_.cancel();

  Pending p;
  p.command = std::move(command);
  p.on_untagged = std::move(on_untagged);
  p.done = std::move(done);
  const auto word_end = p.command.find_first_of(" \r\n");
  const std::string word = upper(std::string_view(p.command).substr(0, word_end));
  if (word == "CLOSE") p.verb = Verb::close;
  if (word == "UNSELECT") p.verb = Verb::unselect;
  if (word == "SELECT" || word == "EXAMINE") {
    p.verb = word == "SELECT" ? Verb::select : Verb::examine;
    // Parse it to learn the mailbox in a form the session can send again later.
    imap::CommandParser parser;
    parser.feed("x " + p.command);
    const imap::ParseEvent ev = parser.next();
    if (const auto* cmd = std::get_if<imap::Command>(&ev)) {
      if (const auto* sel = cmd->as<imap::Select>()) {
        p.select_command = word + " ";
        imap::Serializer(p.select_command, {.literal_plus = true}).astring(sel->mailbox).crlf();
        p.select_condstore = sel->condstore || sel->qresync.has_value();
      }
    }
  }
  queue_.push_back(std::move(p));
  boost::asio::post(executor_, [self = shared_from_this()] { self->pump(); });
}

void PooledStoreSession::park() {
  if (closed_) return;
  parked_ = true;
  if (!busy_ && queue_.empty()) arm_idle_timer();
}

void PooledStoreSession::close() {
  if (closed_) return;
  closed_ = true;
  ++idle_generation_;
  idle_timer_.cancel();
  if (conn_) {
    if (conn_->busy()) conn_->abort();  // the running command completes as unavailable
    else conn_->logout();
    conn_.reset();
  }
  for (auto& p : queue_) post_done(executor_, std::move(p.done), {StoreStatus::unavailable, "Store session closed"});
  queue_.clear();
  view_.reset();
  deltas_.clear();
  held_.clear();
}

void PooledStoreSession::view_added(std::uint32_t uid) {
  if (closed_ || !selected_) return;
  if (conn_ && conn_->usable()) deltas_.push_back({true, uid});
  if (view_) view_->add(uid);
  if (device_exists_) ++*device_exists_;
}

void PooledStoreSession::view_removed(std::uint32_t uid) {
  if (closed_ || !selected_) return;
  if (conn_ && conn_->usable()) deltas_.push_back({false, uid});
  if (view_) view_->remove(uid);
  if (device_exists_ && *device_exists_ > 0) --*device_exists_;
  selected_->shown_modseqs.erase(uid);
}

// --- in-band events (IDLE) -------------------------------------------------------------------

void PooledStoreSession::park_for_events(std::function<void()> ready) {
  park();
  auto post_ready = [this, &ready] {
    if (ready) boost::asio::post(executor_, std::move(ready));
  };
  // Known already (connection retired, or captured at an earlier IDLE and kept in step since), or
  // nothing to know.
  if (closed_ || !selected_ || view_) return post_ready();
  // Without a connection that still numbers messages as the device does, or with store output the
  // device has not seen yet, the view cannot be read off the store.
  if (busy_ || !queue_.empty() || !conn_ || !conn_->usable() || !held_.empty()) return post_ready();
  busy_ = true;
  auto uids = std::make_shared<std::optional<MailboxView>>();
  conn_->command(
      search_command(),
      [weak = weak_from_this(), uids](const imap::Response& u) {
        if (u.untagged == imap::UntaggedKind::esearch) {
          *uids = u.esearch.all ? MailboxView::from_set(*u.esearch.all) : MailboxView{};
        } else if (u.untagged == imap::UntaggedKind::search) {
          *uids = MailboxView::from_uids(u.search.numbers);
        } else if (auto self = weak.lock()) {
          // News the store appends (EXISTS, EXPUNGE, FETCH): not part of what the device was told;
          // it gets them ahead of its next command, like any output between commands.
          self->held_bytes_ += u.raw.size();
          self->held_.emplace_back(u.raw);
        }
      },
      [self = shared_from_this(), uids, ready = std::move(ready)](StoreReply r) {
        self->busy_ = false;
        if (!self->closed_ && self->selected_ && r.status == StoreStatus::ok && *uids) {
          // The connection's view, plus what the edge told the device since that connection last
          // spoke to it.
          self->view_ = std::move(**uids);
          for (const auto& d : self->deltas_) {
            if (d.added) self->view_->add(d.uid);
            else self->view_->remove(d.uid);
          }
        }
        if (ready) ready();
        self->pump();
      });
}

const MailboxView* PooledStoreSession::parked_view() const {
  if (closed_ || !selected_ || !view_) return nullptr;
  return &*view_;
}

bool PooledStoreSession::enabled(std::string_view atom) const { return has(enabled_, atom); }

// --- resuming elsewhere ------------------------------------------------------------------------

std::optional<DeviceView> PooledStoreSession::device_view() const {
  if (closed_) return std::nullopt;
  DeviceView out;
  out.enabled = enabled_;
  if (!selected_) return out;
  // view_ is set exactly when it is the device's view (no connection numbers for the device, or
  // parked for events and kept in step); otherwise it would take a round trip to the store.
  if (!view_) return std::nullopt;
  DeviceView::Mailbox m;
  m.select_command = selected_->command;
  m.uidvalidity = selected_->uidvalidity.value_or(0);
  m.modseq_floor = selected_->modseq_floor;
  m.shown_modseqs = selected_->shown_modseqs;
  m.uids = *view_;
  out.mailbox = std::move(m);
  return out;
}

std::optional<StoreSession::RenderFacts> PooledStoreSession::render_facts() const {
  if (closed_ || !selected_ || !view_) return std::nullopt;  // as device_view()
  return RenderFacts{selected_->uidvalidity.value_or(0), selected_->modseq_floor, &selected_->shown_modseqs};
}

void PooledStoreSession::restore_device_view(const DeviceView& view) {
  if (closed_) return;
  for (const auto& e : view.enabled) enable(e);
  deltas_.clear();
  if (view.mailbox) {
    selected_ = Selected{view.mailbox->select_command, std::nullopt, view.mailbox->modseq_floor,
                         view.mailbox->shown_modseqs};
    if (view.mailbox->uidvalidity != 0) selected_->uidvalidity = view.mailbox->uidvalidity;
    view_ = view.mailbox->uids;
    device_exists_ = view_->size();
  }
  // The login connection has nothing selected and enabled: the next command opens one that restores
  // both and reconciles the device from `view`.
  if (!enabled_.empty() || selected_) {
    if (busy_) return;  // cannot happen at login; the running command's connection is replaced later
    retire();
  }
}

void PooledStoreSession::close_with_view(std::function<void(std::optional<DeviceView>)> done) {
  if (closed_ || busy_ || !queue_.empty()) {
    // A command under way changes the view as it goes: it cannot be pinned down now.
    auto v = (busy_ || !queue_.empty()) ? std::nullopt : device_view();
    close();
    if (done) done(std::move(v));
    return;
  }
  busy_ = true;
  capture_then_retire([self = shared_from_this(), done = std::move(done)] {
    self->busy_ = false;
    auto v = self->device_view();
    self->close();
    if (done) done(std::move(v));
  });
}

void PooledStoreSession::fetch_aside(std::string uid_set, std::string attributes, OnFetch on_fetch,
                                     std::function<void(bool ok)> done) {
  auto fail = [this](std::function<void(bool)> d) {
    if (d) boost::asio::post(executor_, [d = std::move(d)] { d(false); });
  };
  if (closed_ || !selected_) return fail(std::move(done));
  // EXAMINE: read-only, so the aside connection takes no \Recent from the device's own.
  std::string examine = selected_->command;
  if (const auto sp = examine.find(' '); sp != std::string::npos) examine = "EXAMINE" + examine.substr(sp);
  auto slot = std::make_shared<std::shared_ptr<StoreConnection>>();
  auto fetch = "UID FETCH " + uid_set + " " + attributes + "\r\n";
  open_connection(
      user_ + backend_->master_separator + backend_->master_user, backend_->master_password, false,
      [slot, examine = std::move(examine), fetch = std::move(fetch), on_fetch = std::move(on_fetch),
       done = std::move(done)](StoreReply r) mutable {
        auto conn = *slot;
        if (r.status != StoreStatus::ok || !conn) {
          if (conn) conn->abort();
          return done(false);
        }
        conn->command(std::move(examine), {},
                      [conn, fetch = std::move(fetch), on_fetch = std::move(on_fetch),
                       done = std::move(done)](StoreReply e) mutable {
                        if (e.status != StoreStatus::ok) {
                          conn->logout();
                          return done(false);
                        }
                        conn->command(
                            std::move(fetch),
                            [on_fetch](const imap::Response& u) {
                              if (u.untagged != imap::UntaggedKind::fetch) return;
                              if (const auto uid = u.fetch.uid()) on_fetch(*uid, u.raw);
                            },
                            [conn, done = std::move(done)](StoreReply f) {
                              conn->logout();
                              done(f.status == StoreStatus::ok);
                            });
                      });
      },
      slot);
}

// --- running commands --------------------------------------------------------------------------

void PooledStoreSession::pump() {
  if (busy_ || closed_) return;
  if (queue_.empty()) {
    if (parked_) arm_idle_timer();
    return;
  }
  busy_ = true;
  Pending p = std::move(queue_.front());
  queue_.pop_front();
  begin(std::move(p));
}

void PooledStoreSession::begin(Pending p) {
  const bool fresh_view = p.verb == Verb::select || p.verb == Verb::examine;
  if (conn_ && conn_->usable()) {
    if (fresh_view || deltas_.empty()) {
      if (fresh_view) deltas_.clear();  // the SELECT's own responses give the device a new view
      // What the store said between commands reaches the device now, in order.
      imap::Response parsed;
      for (const auto& raw : held_) {
        if (imap::parse_response(raw, parsed).code == imap::ResponseErrc::ok) track(parsed);
        if (p.on_untagged) p.on_untagged(raw);
      }
      held_.clear();
      held_bytes_ = 0;
      view_.reset();
      return run(std::move(p));
    }
    // The edge told the device of changes this connection would report again: replace it.
    return capture_then_retire([self = shared_from_this(), p = std::move(p)]() mutable { self->reopen(std::move(p)); });
  }
  reopen(std::move(p));
}

bool PooledStoreSession::lost(Pending& p) {
  if (!closed_ && conn_) return false;
  finish(std::move(p), {StoreStatus::unavailable, "Store session closed"});
  return true;
}

void PooledStoreSession::reopen(Pending p) {
  if (closed_) return finish(std::move(p), {StoreStatus::unavailable, "Store session closed"});
  if (conn_) {
    conn_->abort();
    conn_.reset();
  }
  held_.clear();
  held_bytes_ = 0;
  deltas_.clear();  // already folded into view_ by capture_then_retire, or unusable without it
  open_connection(user_ + backend_->master_separator + backend_->master_user, backend_->master_password, false,
                  [self = shared_from_this(), p = std::move(p)](StoreReply r) mutable {
                    if (self->closed_) return self->finish(std::move(p), {StoreStatus::unavailable, "Store session closed"});
                    if (r.status != StoreStatus::ok) {
                      // A master login refused is as much an outage for the device as a refused connect.
                      if (r.status != StoreStatus::unavailable) {
                        self->backend_->log->warn("store refused the master login", {{"reason", r.text}});
                        r.text = "Message store refused the backend login";
                      }
                      return self->finish(std::move(p), {StoreStatus::unavailable, r.text});
                    }
                    self->restore_enable(std::move(p));
                  });
}

void PooledStoreSession::restore_enable(Pending p) {
  if (lost(p)) return;
  if (enabled_.empty()) return restore_select(std::move(p));
  std::string cmd = "ENABLE";
  for (const auto& e : enabled_) cmd += " " + e;
  cmd += "\r\n";
  conn_->command(std::move(cmd), {}, [self = shared_from_this(), p = std::move(p)](StoreReply r) mutable {
    if (r.status == StoreStatus::unavailable) return self->finish(std::move(p), {r.status, r.text});
    self->restore_select(std::move(p));
  });
}

void PooledStoreSession::restore_select(Pending p) {
  if (lost(p)) return;
  if (!selected_ || p.verb == Verb::select || p.verb == Verb::examine) {
    view_.reset();
    return run(std::move(p));
  }
  struct Seen {
    std::optional<std::uint64_t> exists;
    std::optional<std::uint32_t> uidvalidity;
    std::optional<MailboxView> uids;
  };
  auto seen = std::make_shared<Seen>();
  conn_->command(
      selected_->command,
      [seen](const imap::Response& r) {
        if (r.untagged == imap::UntaggedKind::exists) seen->exists = r.number;
        if (r.code.kind == imap::ResponseCodeKind::uidvalidity) seen->uidvalidity = static_cast<std::uint32_t>(r.code.number);
      },
      [self = shared_from_this(), p = std::move(p), seen](StoreReply r) mutable {
        if (r.status == StoreStatus::unavailable) return self->finish(std::move(p), {r.status, r.text});
        if (self->lost(p)) return;
        if (r.status != StoreStatus::ok) {
          // Deleted or renamed while the device was away: it cannot stay selected.
          self->backend_->log->info("selected mailbox gone on reopen", {{"reason", r.text}});
          self->selected_.reset();
          self->view_.reset();
          return self->finish(std::move(p), {StoreStatus::unavailable, "Selected mailbox is no longer available"});
        }
        self->conn_->command(
            self->search_command(),
            [seen](const imap::Response& u) {
              if (u.untagged == imap::UntaggedKind::esearch) {
                seen->uids = u.esearch.all ? MailboxView::from_set(*u.esearch.all) : MailboxView{};
              } else if (u.untagged == imap::UntaggedKind::search) {
                seen->uids = MailboxView::from_uids(u.search.numbers);
              }
            },
            [self, p = std::move(p), seen](StoreReply s) mutable {
              if (s.status == StoreStatus::unavailable) return self->finish(std::move(p), {s.status, s.text});
              if (self->lost(p)) return;
              if (s.status != StoreStatus::ok || !seen->uids) {
                // Without the store's list only the count can be compared.
                self->view_.reset();
              }
              MailboxView store = seen->uids ? std::move(*seen->uids) : MailboxView{};
              const std::uint64_t exists = seen->uids ? store.size() : seen->exists.value_or(0);
              self->reconcile_and_run(std::move(p), std::move(store), exists, seen->uidvalidity);
            });
      });
}

void PooledStoreSession::reconcile_and_run(Pending p, MailboxView store, std::uint64_t store_exists,
                                           std::optional<std::uint32_t> uidvalidity) {
  std::vector<std::string> lines;
  const bool uidvalidity_changed =
      selected_->uidvalidity && uidvalidity && *selected_->uidvalidity != *uidvalidity;
  if (view_ && !uidvalidity_changed) {
    lines = reconcile(*view_, store, qresync()).lines;
  } else if (view_) {
    // Every UID the device knows is void: all of them go, the new ones are counted afresh.
    lines = reconcile(*view_, MailboxView{}, qresync()).lines;
    lines.push_back("* OK [UIDVALIDITY " + std::to_string(*uidvalidity) + "] UIDs changed\r\n");
    if (store_exists > 0) lines.push_back("* " + std::to_string(store_exists) + " EXISTS\r\n");
  } else if (device_exists_ && store_exists > *device_exists_) {
    lines.push_back("* " + std::to_string(store_exists) + " EXISTS\r\n");
  } else if (device_exists_ && store_exists < *device_exists_) {
    // The device's UIDs were lost with the connection that died under a command: the expunges
    // cannot be named. Its next SELECT or NOOP-driven FETCH puts it right.
    backend_->log->warn("store view not reconcilable after connection loss",
                        {{"device_exists", *device_exists_}, {"store_exists", store_exists}});
  }
  if (uidvalidity_changed) {  // MODSEQs of the old UIDVALIDITY say nothing
    selected_->modseq_floor = 0;
    selected_->shown_modseqs.clear();
  }
  if (uidvalidity) selected_->uidvalidity = uidvalidity;
  view_.reset();
  device_exists_ = store_exists;
  if (p.on_untagged) {
    for (const auto& l : lines) p.on_untagged(l);
  }
  run(std::move(p));
}

void PooledStoreSession::run(Pending p) {
  if (lost(p)) return;
  seen_uidvalidity_.reset();
  seen_highestmodseq_ = 0;
  std::string command = std::move(p.command);
  auto on_untagged = p.on_untagged;
  conn_->command(
      std::move(command),
      [self = shared_from_this(), on_untagged](const imap::Response& r) {
        // A store BYE ends the backend connection, not the device's: the command fails as unavailable.
        if (r.untagged == imap::UntaggedKind::condition && r.status == imap::ResponseStatus::bye) return;
        self->track(r);
        if (on_untagged) on_untagged(r.raw);
      },
      [self = shared_from_this(), p = std::move(p)](StoreReply r) mutable {
        const bool selecting = p.verb == Verb::select || p.verb == Verb::examine;
        if (selecting && r.status == StoreStatus::ok) {
          if (!p.select_command.empty()) {
            self->selected_ = Selected{std::move(p.select_command), self->seen_uidvalidity_, self->seen_highestmodseq_, {}};
          } else {
            self->selected_.reset();  // cannot be restored; the device re-selects after a NO
          }
          if (p.select_condstore) self->enable("CONDSTORE");
        } else if (selecting && r.status == StoreStatus::no) {
          self->selected_.reset();  // RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected
          self->device_exists_.reset();
        } else if ((p.verb == Verb::close || p.verb == Verb::unselect) && r.status == StoreStatus::ok) {
          self->selected_.reset();
          self->device_exists_.reset();
        }
        if (r.status == StoreStatus::unavailable && self->conn_) {
          self->conn_.reset();
        }
        self->finish(std::move(p), {r.status, std::move(r.text)});
      });
}

void PooledStoreSession::finish(Pending p, StoreResult result) {
  busy_ = false;
  if (p.done) p.done(std::move(result));
  boost::asio::post(executor_, [self = shared_from_this()] { self->pump(); });
}

void PooledStoreSession::track(const imap::Response& r) {
  switch (r.untagged) {
    case imap::UntaggedKind::enabled:
      for (auto a : r.atoms) enable(upper(a));
      break;
    case imap::UntaggedKind::exists:
      device_exists_ = r.number;
      break;
    case imap::UntaggedKind::expunge:
      if (device_exists_ && *device_exists_ > 0) --*device_exists_;
      break;
    case imap::UntaggedKind::vanished:
      if (!r.vanished.earlier && device_exists_) {
        *device_exists_ -= std::min<std::uint64_t>(*device_exists_, r.vanished.uids.count());
      }
      break;
    case imap::UntaggedKind::fetch:
      // RFC 7162 3.1: a MODSEQ in a FETCH means CONDSTORE is on for the session.
      if (const auto modseq = r.fetch.modseq()) {
        enable("CONDSTORE");
        const auto uid = r.fetch.uid();
        if (uid && selected_) record_shown_modseq(selected_->shown_modseqs, *uid, *modseq, selected_->modseq_floor);
      }
      break;
    case imap::UntaggedKind::condition:
      if (r.code.kind == imap::ResponseCodeKind::uidvalidity) {
        seen_uidvalidity_ = static_cast<std::uint32_t>(r.code.number);
      } else if (r.code.kind == imap::ResponseCodeKind::highestmodseq) {
        seen_highestmodseq_ = r.code.number;
      }
      break;
    default:
      break;
  }
}

void PooledStoreSession::enable(std::string_view atom) {
  if (!has(enabled_, atom)) enabled_.emplace_back(atom);
}

bool PooledStoreSession::qresync() const { return has(enabled_, "QRESYNC"); }

std::string PooledStoreSession::search_command() const {
  return capabilities_ && has(*capabilities_, "ESEARCH") ? "UID SEARCH RETURN (ALL) ALL\r\n" : "UID SEARCH ALL\r\n";
}

// --- between commands --------------------------------------------------------------------------

void PooledStoreSession::on_unsolicited(const imap::Response& r) {
  if (r.untagged == imap::UntaggedKind::condition && r.status == imap::ResponseStatus::bye) return;
  if (held_bytes_ + r.raw.size() > kMaxHeldBytes) {
    // Too much to relay: drop the connection; the next command re-selects and reconciles by count.
    backend_->log->warn("store sent too much between commands; reconnecting", {{"bytes", held_bytes_}});
    held_.clear();
    held_bytes_ = 0;
    view_.reset();
    if (conn_) conn_->abort();
    return;
  }
  held_bytes_ += r.raw.size();
  held_.emplace_back(r.raw);
}

void PooledStoreSession::arm_idle_timer() {
  if (!conn_ || !conn_->usable()) return;
  const auto generation = ++idle_generation_;
  idle_timer_.expires_after(backend_->idle_timeout);
  idle_timer_.async_wait([weak = weak_from_this(), generation](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || generation != self->idle_generation_) return;
    if (self->busy_ || self->closed_ || !self->parked_ || !self->queue_.empty()) return;
    self->busy_ = true;
    self->capture_then_retire([self] {
      self->busy_ = false;
      self->pump();
    });
  });
}

void PooledStoreSession::capture_then_retire(std::function<void()> then) {
  if (selected_ && view_) {
    // Known already: read at IDLE (or PIMAP_INBAND_PUSH) start and kept in step with what the edge
    // told the device since. What the store said meanwhile (held_) never reached the device and goes
    // with the connection; the reconciliation after reopening tells it relative to view_. Reading
    // the view again here would be wrong exactly when held_ has news: the connection's view has
    // moved on from the device's.
    deltas_.clear();
    retire();
    return then();
  }
  if (!conn_ || !conn_->usable() || !selected_ || !held_.empty()) {
    // Not selected: nothing to remember. Dead connection or undelivered output: the device's view
    // can no longer be read off the store; reconciliation falls back to the message count.
    if (selected_ && conn_) view_.reset();
    deltas_.clear();
    retire();
    return then();
  }
  auto uids = std::make_shared<std::optional<MailboxView>>();
  conn_->command(
      search_command(),
      [uids](const imap::Response& u) {
        // Dovecot answers from the connection's view, which is what the device was told; the
        // EXPUNGE/EXISTS it appends afterwards are news the reconciliation will report.
        if (u.untagged == imap::UntaggedKind::esearch) {
          *uids = u.esearch.all ? MailboxView::from_set(*u.esearch.all) : MailboxView{};
        } else if (u.untagged == imap::UntaggedKind::search) {
          *uids = MailboxView::from_uids(u.search.numbers);
        }
      },
      [self = shared_from_this(), uids, then = std::move(then)](StoreReply r) {
        if (r.status == StoreStatus::ok && *uids) {
          self->view_ = std::move(**uids);
          for (const auto& d : self->deltas_) {
            if (d.added) self->view_->add(d.uid);
            else self->view_->remove(d.uid);
          }
        } else {
          self->view_.reset();
        }
        self->deltas_.clear();
        self->retire();
        then();
      });
}

void PooledStoreSession::retire() {
  if (conn_) {
    conn_->logout();
    conn_.reset();
  }
  held_.clear();
  held_bytes_ = 0;
}

}  // namespace pimap::edge
