#include "https_session.hpp"

#include "imap_connection.hpp"

#include <boost/asio/post.hpp>

namespace pimap::edge::https {

namespace {
constexpr std::string_view kSessionIdPrefix = "* SESSIONID ";

// Untagged responses other than a BYE: events the device has not been told yet.
bool holds_news(std::string_view backlog) {
  for (std::size_t at = 0; at < backlog.size();) {
    const std::size_t eol = backlog.find("\r\n", at);
    const std::string_view line = backlog.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
    if (line.starts_with("* ") && !line.starts_with("* BYE ")) return true;
    if (eol == std::string_view::npos) break;
    at = eol + 2;
  }
  return false;
}
}

std::shared_ptr<Session> Session::create(boost::asio::any_io_executor executor, std::shared_ptr<const FrontContext> front,
                                         const SessionOptions& options, Registry& registry,
                                         const boost::asio::ip::tcp::endpoint& peer) {
  auto s = std::make_shared<Session>(std::move(executor), options, registry, peer);
  std::weak_ptr<Session> weak = s;
  s->pipe_->set_closed_handler([weak](bool aborted) {
    if (auto self = weak.lock()) self->on_closed(aborted);
  });
  ImapConnection::start(s->pipe_, std::move(front));
  // The greeting: the HTTPS binding has none, the client's first batch is the first thing said.
  s->pipe_->take_backlog();
  return s;
}

void Session::resume(boost::asio::any_io_executor executor, std::shared_ptr<const FrontContext> front,
                     const SessionOptions& options, Registry& registry, const boost::asio::ip::tcp::endpoint& peer,
                     std::string session_id, std::optional<std::string> quiet,
                     std::function<void(std::shared_ptr<Session>, int status)> done) {
  auto s = std::make_shared<Session>(std::move(executor), options, registry, peer);
  if (quiet) {
    s->quiet_ = Quiet::head;
    s->id_announced_ = true;  // the device holds the cookie already
    s->carried_ = std::move(*quiet);
  }
  std::weak_ptr<Session> weak = s;
  s->pipe_->set_closed_handler([weak](bool aborted) {
    if (auto self = weak.lock()) self->on_closed(aborted);
  });
  ImapConnection::start_resumed(s->pipe_, std::move(front), std::move(session_id),
                                [s, done = std::move(done)](int status) {
                                  if (status == 200 && !s->ended_) return done(s, 200);
                                  done(nullptr, status == 200 ? 401 : status);
                                });
}

Session::Session(boost::asio::any_io_executor executor, const SessionOptions& options, Registry& registry,
                 const boost::asio::ip::tcp::endpoint& peer)
    : executor_(executor),
      options_(options),
      registry_(registry),
      pipe_(std::make_shared<Pipe>(executor, peer, options.max_backlog_bytes)),
      heartbeat_(executor) {}

Session::~Session() {
  // The pipe's pending read holds the ImapConnection; aborting it lets both go (the session service
  // keeps the P-IMAP session itself, as after a dropped TCP connection).
  if (!ended_) pipe_->abort();
}

void Session::wait_turn(std::function<void()> turn) {
  if (!bound_) {
    bound_ = true;  // reserved for this turn until it binds or passes
    return turn();
  }
  turns_.push_back(std::move(turn));
  if (long_poll_ && !done_injected_) inject_done();
}

Batch Session::check_batch(std::string_view body) const {
  switch (pending_) {
    case Pending::none: return analyze_batch(body, options_.parser, options_.limits.max_commands);
    case Pending::sasl: {
      const auto eol = body.find("\r\n");
      if (eol == std::string_view::npos) {
        Batch b;
        b.status = 400;
        b.reason = "Expected the AUTHENTICATE response line first";
        return b;
      }
      const std::string_view rest = body.substr(eol + 2);
      Batch b;
      if (!rest.empty()) {
        b = analyze_batch(rest, options_.parser, options_.limits.max_commands - 1);
        if (b.status != 0) return b;
        b.tail_offset += eol + 2;
      }
      b.tags.insert(b.tags.begin(), pending_tag_);
      return b;
    }
    case Pending::literal: {
      // Checked together with the start of the command, which the previous batch carried.
      Batch b = analyze_batch(pending_partial_ + std::string(body), options_.parser, options_.limits.max_commands);
      if (b.status != 0) return b;
      if (b.continuations > 0) --b.continuations;  // its "+" was the previous response's last line
      return b;
    }
  }
  return {};
}

void Session::run_batch(std::string body, Batch plan, const boost::asio::ip::tcp::endpoint& peer, BatchDone done) {
  if (ended_) {  // it ended (LOGOUT, eviction) while this request waited for its turn
    unbind();
    BatchResult gone;
    gone.status = 401;
    gone.ended = true;
    return done(std::move(gone));
  }
  bound_ = true;
  batch_done_ = std::move(done);
  response_.clear();
  awaiting_.assign(plan.tags.begin(), plan.tags.end());
  tail_ = plan.tail;
  plus_left_ = plan.continuations;
  long_poll_ = false;
  done_injected_ = false;
  overflow_ = false;
  std::string next_partial;
  if (plan.tail == Tail::literal) {
    const std::string whole = pending_ == Pending::literal ? pending_partial_ + body : body;
    next_partial = whole.substr(std::min(plan.tail_offset, whole.size()));
  }
  pending_ = Pending::none;
  pending_partial_ = std::move(next_partial);
  pipe_->set_peer(peer);
  std::weak_ptr<Session> weak = weak_from_this();
  pipe_->set_output([weak](std::string_view bytes) {
    auto self = weak.lock();
    if (!self) return false;
    self->on_output(bytes);
    return !self->overflow_;
  });
  if (!carried_.empty()) on_output(std::exchange(carried_, {}));
  const std::string backlog = pipe_->take_backlog();
  if (!backlog.empty()) on_output(backlog);
  pipe_->deliver(body);
}

void Session::open_stream(const boost::asio::ip::tcp::endpoint& peer, StreamSink sink) {
  if (ended_) {
    unbind();
    return sink({}, true);
  }
  bound_ = true;
  sink_ = std::move(sink);
  stream_ending_ = false;
  stream_idle_ = false;
  awaiting_.clear();
  stream_parser_ = std::make_unique<imap::CommandParser>(options_.parser);
  pipe_->set_peer(peer);
  std::weak_ptr<Session> weak = weak_from_this();
  pipe_->set_output([weak](std::string_view bytes) {
    auto self = weak.lock();
    if (!self) return false;
    self->on_output(bytes);
    return true;
  });
  if (!carried_.empty()) on_output(std::exchange(carried_, {}));
  const std::string backlog = pipe_->take_backlog();
  if (!backlog.empty()) on_output(backlog);
}

void Session::stream_input(std::string_view bytes) {
  track_stream_input(bytes);
  pipe_->deliver(bytes);
}

void Session::track_stream_input(std::string_view bytes) {
  if (!stream_parser_) return;
  stream_parser_->feed(bytes);
  for (;;) {
    imap::ParseEvent ev = stream_parser_->next();
    if (std::holds_alternative<imap::NeedMore>(ev)) break;
    if (auto* cmd = std::get_if<imap::Command>(&ev)) {
      awaiting_.emplace_back(cmd->tag);
      if (cmd->kind == imap::CommandKind::idle) {
        stream_idle_ = true;
        stream_parser_->expect_idle_done();
      } else if (cmd->kind == imap::CommandKind::authenticate && !cmd->as<imap::Authenticate>()->initial_response) {
        stream_parser_->expect_sasl_response();
      }
    } else if (std::holds_alternative<imap::IdleDone>(ev)) {
      stream_idle_ = false;
    } else if (auto* err = std::get_if<imap::ParseError>(&ev)) {
      if (err->code == imap::ErrorCode::expected_done) stream_idle_ = false;
    }
  }
}

void Session::stream_end() {
  stream_ending_ = true;
  if (stream_idle_) {
    stream_idle_ = false;
    track_stream_input("DONE\r\n");
    pipe_->deliver("DONE\r\n");
  }
  maybe_end_stream();
}

void Session::maybe_end_stream() {
  if (!sink_ || !stream_ending_ || !awaiting_.empty()) return;
  auto sink = std::exchange(sink_, {});
  stream_parser_.reset();
  unbind();
  sink({}, true);
}

void Session::abandon() {
  batch_done_ = nullptr;
  sink_ = nullptr;
  stream_parser_.reset();
  if (stream_idle_ && !done_injected_) {
    stream_idle_ = false;
    pipe_->deliver("DONE\r\n");
  }
  awaiting_.clear();
  if (long_poll_ && !done_injected_) inject_done();
  unbind();
}

void Session::on_output(std::string_view bytes) {
  if (!sink_ && response_.size() + bytes.size() > options_.max_response_bytes) {
    overflow_ = true;
    return;
  }
  scanner_.feed(bytes, [this](const Response& r) { on_response(r); });
}

void Session::learn_id(std::string_view line) {
  if (!line.starts_with(kSessionIdPrefix) || !id_.empty()) return;
  std::string_view id = line.substr(kSessionIdPrefix.size());
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r' || id.back() == ' ')) id.remove_suffix(1);
  if (id.empty()) return;
  id_ = std::string(id);
  registry_.add(id_, shared_from_this());
}

void Session::on_response(const Response& r) {
  std::string before;
  if (quiet_drop(r, before)) {
    learn_id(r.bytes);
    return;
  }
  if (!before.empty()) on_response(Response{Response::Kind::untagged, {}, before});
  if (r.kind == Response::Kind::untagged) {
    learn_id(r.bytes);
    // The state machine closes right after its BYE (LOGOUT, autologout, eviction).
    if (r.bytes.starts_with("* BYE ")) bye_ = true;
  }
  if (sink_) {
    sink_(r.bytes, false);
    if (r.kind == Response::Kind::tagged && !awaiting_.empty() && r.tag == awaiting_.front()) {
      awaiting_.pop_front();
      maybe_end_stream();
    }
    return;
  }
  if (!batch_done_) return;  // abandoned request: nobody reads it
  switch (r.kind) {
    case Response::Kind::continuation: {
      // Only the batch's final "+" matters; those for literals whose data was in the body are noise.
      if (plus_left_ > 0) --plus_left_;
      if (plus_left_ != 0 || awaiting_.size() != 1) return;
      if (tail_ == Tail::idle) {
        long_poll_ = true;
        heartbeat_.expires_after(options_.heartbeat);
        heartbeat_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
          auto self = weak.lock();
          if (ec || !self || !self->long_poll_ || self->done_injected_) return;
          self->response_ += "* OK still here\r\n";
          self->inject_done();
        });
        return;
      }
      if (tail_ == Tail::sasl || tail_ == Tail::literal) {
        response_.append(r.bytes);
        pending_ = tail_ == Tail::sasl ? Pending::sasl : Pending::literal;
        pending_tag_ = awaiting_.front();
        return finish_batch(200);
      }
      return;
    }
    case Response::Kind::tagged:
      response_.append(r.bytes);
      if (!awaiting_.empty() && r.tag == awaiting_.front()) {
        awaiting_.pop_front();
        if (awaiting_.empty()) finish_batch(200);
      }
      return;
    case Response::Kind::untagged:
      response_.append(r.bytes);
      // A long-lived response ends with the first event; DONE's completion follows it.
      if (long_poll_ && !done_injected_) inject_done();
      return;
  }
}

void Session::inject_done() {
  done_injected_ = true;
  heartbeat_.cancel();
  pipe_->deliver("DONE\r\n");
}

void Session::finish_batch(int status) {
  BatchResult res;
  res.status = status;
  res.body = std::exchange(response_, {});
  if (!id_.empty() && !id_announced_ && !ended_ && !bye_) {
    res.new_session_id = id_;
    id_announced_ = true;
  }
  res.ended = ended_ || bye_;
  auto done = std::exchange(batch_done_, {});
  awaiting_.clear();
  long_poll_ = false;
  unbind();
  if (done) done(std::move(res));
}

void Session::on_closed(bool aborted) {
  auto self = shared_from_this();  // the registry may hold the last reference
  ended_ = true;
  aborted_ = aborted;
  if (!id_.empty()) registry_.remove(id_, this);
  if (batch_done_) return finish_batch(aborted || overflow_ ? 500 : 200);
  if (sink_) {
    auto sink = std::exchange(sink_, {});
    stream_parser_.reset();
    unbind();
    sink({}, true);
  }
}

void Session::unbind() {
  heartbeat_.cancel();
  pipe_->set_output({});
  bound_ = !turns_.empty();  // reserved for the next turn, so a newcomer cannot overtake it
  if (turns_.empty()) return arm_linger();
  auto turn = std::move(turns_.front());
  turns_.pop_front();
  boost::asio::post(executor_, std::move(turn));
}

void Session::arm_linger() {
  if (ended_ || bye_ || id_.empty()) return;
  heartbeat_.expires_after(options_.linger);
  heartbeat_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (auto self = weak.lock(); self && !ec) self->park();
  });
}

void Session::park() {
  // A continuation the next POST answers needs this state machine; so do events written after the
  // last response (a long poll the client left): they come with the next request, as before.
  if (bound_ || ended_ || bye_ || id_.empty() || pending_ != Pending::none || holds_news(pipe_->backlog())) return;
  auto self = shared_from_this();  // the registry holds the last reference
  registry_.park(id_, this, options_.parked_for, pipe_->take_backlog());
  ended_ = true;
  // As after a dropped TCP connection: the ImapConnection detaches from the session service with its
  // checkpoint and gives its store connection back.
  pipe_->abort();
}

bool Session::quiet_drop(const Response& r, std::string& before) {
  if (quiet_ == Quiet::off || r.kind != Response::Kind::untagged) return false;
  if (r.bytes.starts_with(kSessionIdPrefix)) {
    quiet_ = Quiet::off;
    quiet_folder_.clear();
    return true;
  }
  if (quiet_ != Quiet::head) return false;
  if (r.bytes.starts_with("* SESSION ")) return true;
  if (r.bytes.starts_with("* FOLDER ")) {
    quiet_folder_ = std::string(r.bytes);
    return true;
  }
  if (r.bytes.starts_with("* RESYNC")) before = std::move(quiet_folder_);  // the FOLDER scopes it
  quiet_folder_.clear();
  quiet_ = Quiet::body;
  return false;
}

std::shared_ptr<Session> Registry::find(const std::string& id) const {
  const auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

void Registry::remove(const std::string& id, const Session* s) {
  const auto it = sessions_.find(id);
  if (it != sessions_.end() && it->second.get() == s) sessions_.erase(it);
}

void Registry::park(const std::string& id, const Session* s, std::chrono::milliseconds forget_after,
                    std::string backlog) {
  const auto now = std::chrono::steady_clock::now();
  if (parked_.size() >= prune_at_) {  // amortised: forget ids whose IMAP idle limit has passed
    std::erase_if(parked_, [now](const auto& kv) { return kv.second.forget_at <= now; });
    prune_at_ = std::max<std::size_t>(1024, parked_.size() * 2);
  }
  parked_[id] = Parked{now + forget_after, std::move(backlog)};
  remove(id, s);
}

std::optional<std::string> Registry::unpark(const std::string& id) {
  const auto it = parked_.find(id);
  if (it == parked_.end()) return std::nullopt;
  std::optional<std::string> out;
  if (it->second.forget_at > std::chrono::steady_clock::now()) out = std::move(it->second.backlog);
  parked_.erase(it);
  return out;
}

}  // namespace pimap::edge::https
