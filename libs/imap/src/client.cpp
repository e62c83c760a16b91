// The IMAP client's engine. All Asio, TLS and zlib template code of the client is instantiated here,
// once (compile time matters on small build machines); the header only forwards type-erased handlers.
//
// One Impl per connection, kept alive by the async operations that reference it. Everything runs on
// the client's executor: a single read loop feeds the ResponseReader and dispatches each response as
// it is framed; a write pump serialises queued commands in order, stopping at synchronising literals
// until the server's `+`; one timer watches the earliest deadline (connect phase or command).

// GCC 12 at -O2 reports false "potential null pointer dereference"s inside Asio's scheduler and
// type-erased executors, inlined here from system headers.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "pimap/imap/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <deque>
#include <optional>

#include "pimap/imap/client_deflate.hpp"
#include "pimap/imap/response_reader.hpp"

namespace pimap::imap {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr Clock::time_point kNever = Clock::time_point::max();

std::string base64(std::string_view in) {
  static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                   static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                   static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += kTable[n >> 18 & 63];
    out += kTable[n >> 12 & 63];
    out += kTable[n >> 6 & 63];
    out += kTable[n & 63];
  }
  if (i < in.size()) {
    auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kTable[n >> 18 & 63];
    out += kTable[n >> 12 & 63];
    out += i + 1 < in.size() ? kTable[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

bool is_ip_address(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Boost 1.81's any_completion_handler move-assignment copies from an lvalue and recurses without end
// (fixed in 1.82): assign by swapping instead.
template <typename Handler>
void assign(Handler& dst, Handler&& src) {
  Handler tmp(std::move(src));
  dst.swap(tmp);
}

bool is_disconnect(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == ssl::error::stream_truncated ||
         ec == asio::error::broken_pipe;
}

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Impl> {
  enum class State : std::uint8_t { disconnected, connecting, connected, closed };
  enum class Kind : std::uint8_t { normal, internal, starttls, compress, idle };

  struct Op {
    Kind kind = Kind::normal;
    std::string tag;
    ClientCommand cmd;
    std::vector<CommandChunk> chunks;
    std::size_t next_chunk = 0;
    bool barrier = false;
    bool refresh_caps = false;
    std::uint64_t caps_generation = 0;
    std::chrono::milliseconds timeout{0};
    Clock::time_point deadline = kNever;
    UntaggedHandler on_untagged;
    CommandResult result;
    CommandHandler handler;                                     // user completion (posted)
    std::function<void(error_code, CommandResult)> internal;    // engine continuation (inline)
    // IDLE
    ConnectHandler idle_started;
    bool idle_active = false;
    bool done_requested = false;
    bool done_sent = false;
  };
  using OpPtr = std::shared_ptr<Op>;

  Impl(asio::any_io_executor ex, ClientOptions o)
      : ex_(std::move(ex)), opt_(std::move(o)), resolver_(ex_), socket_(ex_), timer_(ex_), reader_(opt_.limits) {
    if (opt_.tls_server_name.empty()) opt_.tls_server_name = opt_.host;
    if (opt_.read_chunk < 1024) opt_.read_chunk = 1024;
  }

  // ---- completion helpers -------------------------------------------------------------------

  // Completions are posted (never run inside the engine), then dispatched to the handler's
  // associated executor (by default the client's). Not asio::append: in Boost 1.81 it copies an
  // any_completion_handler from an lvalue, which recurses without end.
  void post_connect(ConnectHandler h, error_code ec) {
    if (!h) return;
    auto ex = asio::get_associated_executor(h, ex_);
    asio::post(ex_, [h = std::move(h), ex, ec]() mutable {
      asio::dispatch(ex, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
    });
  }

  void post_command(CommandHandler h, error_code ec, CommandResult r) {
    if (!h) return;
    auto ex = asio::get_associated_executor(h, ex_);
    asio::post(ex_, [h = std::move(h), ex, ec, r = std::move(r)]() mutable {
      asio::dispatch(ex, [h = std::move(h), ec, r = std::move(r)]() mutable { std::move(h)(ec, std::move(r)); });
    });
  }

  void finish_op(const OpPtr& op, error_code ec) {
    if (op->idle_started) post_connect(std::move(op->idle_started), ec ? ec : make_error_code(ClientErrc::idle_rejected));
    if (op->internal) {
      auto cb = std::move(op->internal);
      op->internal = nullptr;
      cb(ec, std::move(op->result));
    } else if (op->handler) {
      post_command(std::move(op->handler), ec, std::move(op->result));
    }
  }

  // ---- transport ----------------------------------------------------------------------------

  tcp::socket& sock() { return tls_ ? tls_->next_layer() : socket_; }

  template <typename Buffer, typename Handler>
  void stream_read(const Buffer& b, Handler&& h) {
    if (tls_) {
      tls_->async_read_some(b, std::forward<Handler>(h));
    } else {
      socket_.async_read_some(b, std::forward<Handler>(h));
    }
  }

  template <typename Handler>
  void stream_write(Handler&& h) {
    if (tls_) {
      asio::async_write(*tls_, asio::buffer(wire_), std::forward<Handler>(h));
    } else {
      asio::async_write(socket_, asio::buffer(wire_), std::forward<Handler>(h));
    }
  }

  void close_transport() {
    error_code ignored;
    resolver_.cancel();
    sock().shutdown(tcp::socket::shutdown_both, ignored);
    sock().close(ignored);
    timer_.cancel();
    timer_at_ = kNever;
  }

  void trace(TraceDirection d, std::string_view s) {
    if (trace_) trace_(d, s);
  }

  // ---- failure ------------------------------------------------------------------------------

  // Closes the connection and completes everything pending. `cause` (if any) gets `ec`, every
  // other operation ClientErrc::closed; without a cause all of them get `ec`.
  void fail(error_code ec, const OpPtr& cause = nullptr) {
    if (state_ == State::closed) return;
    state_ = State::closed;
    failure_ = ec;
    close_transport();
    post_connect(std::move(connect_handler_), ec);
    std::deque<OpPtr> ops;
    ops.swap(inflight_);
    for (auto& op : pending_) ops.push_back(std::move(op));
    pending_.clear();
    waiting_plus_.reset();
    barrier_.reset();
    idle_op_.reset();
    const error_code others = cause ? make_error_code(ClientErrc::closed) : ec;
    for (auto& op : ops) finish_op(op, op == cause ? ec : others);
    if (closed_handler_) {
      auto h = std::move(closed_handler_);
      closed_handler_ = nullptr;
      asio::post(ex_, [h = std::move(h), ec] { h(ec); });
    }
  }

  // ---- timer --------------------------------------------------------------------------------

  static bool timed(const Op& op) { return !(op.idle_active && !op.done_sent); }

  void arm_timer() {
    if (state_ == State::closed) return;
    Clock::time_point next = phase_deadline_;
    for (const auto& op : inflight_)
      if (timed(*op)) next = std::min(next, op->deadline);
    if (next == timer_at_) return;
    timer_at_ = next;
    const std::uint64_t gen = ++timer_gen_;
    if (next == kNever) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(next);
    timer_.async_wait([self = shared_from_this(), gen](error_code ec) {
      if (ec || gen != self->timer_gen_) return;
      self->on_timer();
    });
  }

  void on_timer() {
    timer_at_ = kNever;
    const auto now = Clock::now();
    if (phase_deadline_ <= now) {
      fail(make_error_code(phase_errc_));
      return;
    }
    for (const auto& op : inflight_) {
      if (timed(*op) && op->deadline <= now) {
        fail(make_error_code(ClientErrc::command_timeout), op);
        return;
      }
    }
    arm_timer();
  }

  void set_phase(std::chrono::milliseconds t, ClientErrc e) {
    phase_deadline_ = Clock::now() + t;
    phase_errc_ = e;
    arm_timer();
  }
  void clear_phase() {
    phase_deadline_ = kNever;
    arm_timer();
  }

  // ---- connect ------------------------------------------------------------------------------

  void start_connect(ConnectHandler h) {
    if (state_ != State::disconnected) {
      post_connect(std::move(h), state_ == State::closed ? make_error_code(ClientErrc::closed)
                                                         : error_code(asio::error::already_started));
      return;
    }
    state_ = State::connecting;
    assign(connect_handler_, std::move(h));
    set_phase(opt_.connect_timeout, ClientErrc::connect_timeout);
    resolver_.async_resolve(opt_.host, std::to_string(opt_.port),
                            [self = shared_from_this()](error_code ec, tcp::resolver::results_type results) {
                              self->on_resolved(ec, std::move(results));
                            });
  }

  void on_resolved(error_code ec, tcp::resolver::results_type results) {
    if (state_ != State::connecting) return;
    if (ec) return fail(ec);
    asio::async_connect(socket_, results, [self = shared_from_this()](error_code e, const tcp::endpoint&) {
      self->on_connected(e);
    });
  }

  void on_connected(error_code ec) {
    if (state_ != State::connecting) return;
    if (ec) return fail(ec);
    error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    if (opt_.security == Security::implicit_tls) {
      start_tls([this] { wait_greeting(); });
    } else {
      wait_greeting();
    }
  }

  void start_tls(std::function<void()> next) {
    try {
      if (!ssl_ctx_) {
        ssl_ctx_ = std::make_unique<ssl::context>(ssl::context::tls_client);
        SSL_CTX_set_min_proto_version(ssl_ctx_->native_handle(), TLS1_2_VERSION);
        if (opt_.verify_certificate) {
          if (opt_.ca_file.empty()) {
            ssl_ctx_->set_default_verify_paths();
          } else {
            ssl_ctx_->load_verify_file(opt_.ca_file);
          }
        }
      }
      tls_ = std::make_unique<ssl::stream<tcp::socket>>(std::move(socket_), *ssl_ctx_);
      if (opt_.verify_certificate) {
        tls_->set_verify_mode(ssl::verify_peer);
        tls_->set_verify_callback(ssl::host_name_verification(opt_.tls_server_name));
      } else {
        tls_->set_verify_mode(ssl::verify_none);
      }
      if (!is_ip_address(opt_.tls_server_name)) {
        // SSL_set_tlsext_host_name() without its C cast
        SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(opt_.tls_server_name.c_str()));
      }
    } catch (const boost::system::system_error& e) {
      return fail(e.code());
    }
    set_phase(opt_.tls_timeout, ClientErrc::tls_timeout);
    tls_->async_handshake(ssl::stream_base::client, [self = shared_from_this(), next = std::move(next)](error_code ec) {
      if (self->state_ == State::closed) return;
      if (ec) return self->fail(ec);
      self->clear_phase();
      next();
    });
  }

  void wait_greeting() {
    set_phase(opt_.greeting_timeout, ClientErrc::greeting_timeout);
    greeting_pending_ = true;
    do_read();
  }

  void on_greeting(const Response& r) {
    greeting_pending_ = false;
    clear_phase();
    if (!r.is_untagged() || r.untagged != UntaggedKind::condition) return fail(make_error_code(ClientErrc::bad_greeting));
    if (r.status == ResponseStatus::bye) return fail(make_error_code(ClientErrc::greeting_rejected));
    if (r.status != ResponseStatus::ok && r.status != ResponseStatus::preauth) {
      return fail(make_error_code(ClientErrc::bad_greeting));
    }
    greeting_ = std::string(r.text);
    if (r.code.kind == ResponseCodeKind::capability) set_caps(r.code.list);
    if (opt_.security == Security::starttls && !tls_) {
      ensure_caps([this] {
        if (!has_cap("STARTTLS")) return fail(make_error_code(ClientErrc::starttls_unsupported));
        auto op = make_op(ClientCommand("STARTTLS"), Kind::starttls);
        op->barrier = true;
        enqueue(op);
      });
    } else {
      ensure_caps([this] { finish_connect(); });
    }
  }

  void after_starttls(const OpPtr& op) {
    if (!op->result.ok()) return fail(make_error_code(ClientErrc::starttls_rejected));
    // Anything already received after the OK was sent in plaintext by someone in the middle.
    if (!reader_.buffered().empty()) return fail(make_error_code(ClientErrc::tls_injection));
    read_paused_ = true;
    reader_.reset();
    caps_.clear();
    caps_known_ = false;
    auto go = [this] {
      start_tls([this] {
        read_paused_ = false;
        do_read();
        ensure_caps([this] { finish_connect(); });
      });
    };
    if (writing_) {
      after_write_ = go;  // the socket moves into the TLS stream: let the last plaintext write finish
    } else {
      go();
    }
  }

  void finish_connect() {
    if (state_ != State::connecting) return;
    state_ = State::connected;
    clear_phase();
    post_connect(std::move(connect_handler_), {});
    pump();
  }

  // Runs CAPABILITY unless the capabilities are known, then `next` (not called on failure: the
  // failure has already been reported to whoever waits).
  void ensure_caps(std::function<void()> next) {
    if (caps_known_) return next();
    auto op = make_op(ClientCommand("CAPABILITY"), Kind::internal);
    op->internal = [next = std::move(next)](error_code ec, CommandResult) {
      if (!ec) next();
    };
    enqueue(op);
  }

  // ---- commands -----------------------------------------------------------------------------

  OpPtr make_op(ClientCommand cmd, Kind kind) {
    auto op = std::make_shared<Op>();
    op->kind = kind;
    op->timeout = cmd.timeout_value().count() > 0 ? cmd.timeout_value() : opt_.command_timeout;
    op->on_untagged = cmd.take_untagged_handler();
    const std::string verb = cmd.verb();
    op->refresh_caps = ascii_iequals(verb, "LOGIN") || ascii_iequals(verb, "AUTHENTICATE");
    op->cmd = std::move(cmd);
    return op;
  }

  void enqueue(const OpPtr& op) {
    const bool internal = op->kind == Kind::internal || op->kind == Kind::starttls;
    if (state_ == State::closed) return finish_op(op, make_error_code(ClientErrc::closed));
    if (state_ != State::connected && !(internal && state_ == State::connecting)) {
      return finish_op(op, make_error_code(ClientErrc::not_connected));
    }
    if (!op->cmd.valid()) return finish_op(op, make_error_code(ClientErrc::invalid_command));
    op->tag = opt_.tag_prefix + std::to_string(next_tag_++);
    pending_.push_back(op);
    pump();
  }

  void start_command(ClientCommand cmd, CommandHandler h) {
    auto op = make_op(std::move(cmd), Kind::normal);
    assign(op->handler, std::move(h));
    enqueue(op);
  }

  void start_compress(CommandHandler h) {
    auto op = make_op(ClientCommand("COMPRESS DEFLATE"), Kind::compress);
    op->barrier = true;
    assign(op->handler, std::move(h));
    enqueue(op);
  }

  void start_idle(UntaggedHandler on_untagged, ConnectHandler h) {
    if (state_ != State::connected) {
      return post_connect(std::move(h), make_error_code(state_ == State::closed ? ClientErrc::closed
                                                                                 : ClientErrc::not_connected));
    }
    if (idle_op_) return post_connect(std::move(h), asio::error::already_started);
    auto op = make_op(ClientCommand("IDLE"), Kind::idle);
    op->barrier = true;
    op->on_untagged = std::move(on_untagged);
    assign(op->idle_started, std::move(h));
    idle_op_ = op;
    enqueue(op);
  }

  void start_idle_done(CommandHandler h) {
    if (!idle_op_) return post_command(std::move(h), make_error_code(ClientErrc::not_idling), {});
    if (idle_op_->done_requested) return post_command(std::move(h), asio::error::already_started, {});
    assign(idle_op_->handler, std::move(h));
    idle_op_->done_requested = true;
    if (idle_op_->idle_active) send_done(idle_op_);
  }

  void send_done(const OpPtr& op) {
    op->done_sent = true;
    op->deadline = Clock::now() + op->timeout;
    out_ += "DONE\r\n";
    trace(TraceDirection::sent, "DONE");
    arm_timer();
    flush();
  }

  LiteralMode literal_mode() const {
    if (!opt_.use_literal_plus) return LiteralMode::sync;
    if (has_cap("LITERAL+")) return LiteralMode::plus;
    if (has_cap("LITERAL-")) return LiteralMode::minus;
    return LiteralMode::sync;
  }

  // Starts as many queued commands as ordering rules allow.
  void pump() {
    while (!pending_.empty() && !waiting_plus_ && !barrier_ && !read_paused_ &&
           (state_ == State::connected || state_ == State::connecting)) {
      const OpPtr op = pending_.front();
      if (op->barrier && !inflight_.empty()) break;
      pending_.pop_front();
      op->chunks = serialize_command(op->cmd, op->tag, literal_mode());
      op->deadline = Clock::now() + op->timeout;
      op->caps_generation = caps_generation_;
      inflight_.push_back(op);
      if (op->barrier) barrier_ = op;
      if (trace_) trace(TraceDirection::sent, trace_command(op->cmd, op->tag));
      send_chunk(op);
    }
    arm_timer();
    flush();
  }

  void send_chunk(const OpPtr& op) {
    CommandChunk& c = op->chunks[op->next_chunk++];
    out_ += c.bytes;
    if (c.wait_for_continuation) waiting_plus_ = op;
  }

  void flush() {
    if (writing_ || out_.empty() || state_ == State::closed || read_paused_ || state_ == State::disconnected) return;
    wire_.clear();
    if (deflate_) {
      if (!deflate_->write(out_, wire_)) return fail(make_error_code(ClientErrc::compression_error));
      out_.clear();
    } else {
      wire_.swap(out_);
    }
    writing_ = true;
    stream_write([self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(error_code ec) {
    writing_ = false;
    if (state_ == State::closed) return;
    if (ec) return fail(is_disconnect(ec) ? make_error_code(ClientErrc::connection_closed) : ec);
    if (after_write_) {
      auto f = std::move(after_write_);
      after_write_ = nullptr;
      f();
      return;
    }
    flush();
  }

  // ---- reading ------------------------------------------------------------------------------

  void do_read() {
    if (reading_ || read_paused_ || state_ == State::closed || state_ == State::disconnected) return;
    reading_ = true;
    auto self = shared_from_this();
    if (inflate_) {
      raw_in_.resize(opt_.read_chunk);
      stream_read(asio::buffer(raw_in_), [self](error_code ec, std::size_t n) { self->on_read(ec, n); });
    } else {
      auto area = reader_.prepare(opt_.read_chunk);
      stream_read(asio::buffer(area.data(), area.size()),
                  [self](error_code ec, std::size_t n) { self->on_read(ec, n); });
    }
  }

  void on_read(error_code ec, std::size_t n) {
    reading_ = false;
    if (state_ == State::closed) return;
    if (ec) return fail(is_disconnect(ec) ? make_error_code(ClientErrc::connection_closed) : ec);
    if (inflate_) {
      if (!feed_compressed({raw_in_.data(), n})) return;
    } else {
      reader_.commit(n);
      if (!process()) return;
      if (!leftover_compressed_.empty()) {
        const std::string c = std::move(leftover_compressed_);
        leftover_compressed_.clear();
        if (!feed_compressed(c)) return;
      }
    }
    do_read();
  }

  // Inflates `data` step by step, dispatching responses in between so memory stays bounded.
  bool feed_compressed(std::string_view data) {
    inflate_->set_input(data);
    for (;;) {
      auto area = reader_.prepare(opt_.read_chunk);
      const std::size_t got = inflate_->read(area);
      reader_.commit(got);
      if (inflate_->failed()) {
        fail(make_error_code(ClientErrc::compression_error));
        return false;
      }
      if (!process()) return false;
      if (got < area.size() && !inflate_->has_input()) return true;
    }
  }

  // Dispatches every complete response; false once the connection is closed.
  bool process() {
    for (;;) {
      if (state_ == State::closed) return false;
      const ReadStatus st = reader_.next(resp_);
      if (st == ReadStatus::need_more) return true;
      if (trace_) trace(TraceDirection::received, resp_.raw);
      if (st == ReadStatus::error) {
        on_malformed();
        continue;
      }
      if (greeting_pending_) {
        on_greeting(resp_);
        continue;
      }
      switch (resp_.kind) {
        case ResponseKind::continuation:
          on_continuation();
          break;
        case ResponseKind::tagged:
          on_tagged(resp_);
          break;
        case ResponseKind::untagged:
          on_untagged(resp_);
          break;
      }
    }
  }

  void on_malformed() {
    ++malformed_;
    if (greeting_pending_) return fail(make_error_code(ClientErrc::bad_greeting));
    // A broken tagged response still ends its command; the command learns it was malformed.
    if (!resp_.tag.empty()) {
      if (OpPtr op = take_inflight(resp_.tag)) {
        if (!resp_.raw.empty()) op->result.tagged = OwnedResponse(resp_.raw, opt_.limits);
        finish_op(op, make_error_code(ClientErrc::protocol_error));
        pump();
      }
    }
  }

  void on_continuation() {
    if (waiting_plus_) {
      OpPtr op = std::move(waiting_plus_);
      waiting_plus_.reset();
      op->deadline = Clock::now() + op->timeout;
      send_chunk(op);
      pump();
      return;
    }
    if (idle_op_ && !idle_op_->idle_active) {
      OpPtr op = idle_op_;
      op->idle_active = true;
      post_connect(std::move(op->idle_started), {});
      op->idle_started = nullptr;
      if (op->done_requested) {
        send_done(op);
      } else {
        arm_timer();
      }
      return;
    }
    // A `+` nobody asked for: harmless, but note it.
    ++malformed_;
  }

  OpPtr take_inflight(std::string_view tag) {
    auto it = std::find_if(inflight_.begin(), inflight_.end(), [&](const OpPtr& o) { return o->tag == tag; });
    if (it == inflight_.end()) return nullptr;
    OpPtr op = *it;
    inflight_.erase(it);
    if (waiting_plus_ == op) waiting_plus_.reset();
    if (barrier_ == op) barrier_.reset();
    if (idle_op_ == op) idle_op_.reset();
    return op;
  }

  void on_tagged(const Response& r) {
    OpPtr op = take_inflight(r.tag);
    if (!op) {
      ++malformed_;
      return;
    }
    if (r.code.kind == ResponseCodeKind::capability) set_caps(r.code.list);
    op->result.status = r.status;
    op->result.tagged = OwnedResponse(r.raw, opt_.limits);
    switch (op->kind) {
      case Kind::starttls:
        after_starttls(op);
        return;
      case Kind::compress:
        if (op->result.ok()) {
          deflate_ = std::make_unique<DeflateWriter>();
          inflate_ = std::make_unique<InflateReader>();
          leftover_compressed_ = reader_.take_buffered();
        }
        break;
      case Kind::idle:
        if (!op->idle_active && op->idle_started) {
          post_connect(std::move(op->idle_started), make_error_code(ClientErrc::idle_rejected));
          op->idle_started = nullptr;
        }
        break;
      case Kind::normal:
      case Kind::internal:
        break;
    }
    if (op->refresh_caps && op->result.ok() && op->caps_generation == caps_generation_) {
      // The server did not announce its post-login capabilities: ask before completing.
      caps_known_ = false;
      auto cap = make_op(ClientCommand("CAPABILITY"), Kind::internal);
      cap->internal = [this, op](error_code ec, CommandResult) { finish_op(op, ec); };
      enqueue(cap);
      return;
    }
    finish_op(op, {});
    pump();
  }

  void on_untagged(const Response& r) {
    switch (r.untagged) {
      case UntaggedKind::capability:
        set_caps(r.atoms);
        break;
      case UntaggedKind::enabled:
        for (std::string_view a : r.atoms) enabled_.emplace_back(a);
        break;
      case UntaggedKind::condition:
        if (r.code.kind == ResponseCodeKind::capability) set_caps(r.code.list);
        break;
      default:
        break;
    }
    OpPtr target;
    if (r.untagged == UntaggedKind::esearch && r.esearch.tag) {
      for (const auto& op : inflight_)
        if (op->tag == *r.esearch.tag) target = op;
    }
    if (!target && !inflight_.empty()) target = inflight_.front();
    if (target) {
      if (target->on_untagged) {
        target->on_untagged(r);
      } else {
        target->result.untagged.emplace_back(r.raw, opt_.limits);
      }
    } else if (session_handler_) {
      session_handler_(r);
    }
  }

  void set_caps(const AtomList& list) {
    caps_.assign(list.begin(), list.end());
    caps_known_ = true;
    ++caps_generation_;
  }

  bool has_cap(std::string_view c) const {
    return std::any_of(caps_.begin(), caps_.end(), [&](const std::string& x) { return ascii_iequals(x, c); });
  }

  // ---- state --------------------------------------------------------------------------------

  asio::any_io_executor ex_;
  ClientOptions opt_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  std::unique_ptr<ssl::context> ssl_ctx_;
  std::unique_ptr<ssl::stream<tcp::socket>> tls_;
  asio::steady_timer timer_;
  ResponseReader reader_;
  Response resp_;
  std::unique_ptr<DeflateWriter> deflate_;
  std::unique_ptr<InflateReader> inflate_;
  std::vector<char> raw_in_;
  std::string leftover_compressed_;
  std::string out_;
  std::string wire_;
  std::function<void()> after_write_;

  State state_ = State::disconnected;
  bool writing_ = false;
  bool reading_ = false;
  bool read_paused_ = false;
  bool greeting_pending_ = false;

  std::deque<OpPtr> pending_;
  std::deque<OpPtr> inflight_;
  OpPtr waiting_plus_;
  OpPtr barrier_;
  OpPtr idle_op_;
  std::uint64_t next_tag_ = 1;

  ConnectHandler connect_handler_;
  Clock::time_point phase_deadline_ = kNever;
  ClientErrc phase_errc_ = ClientErrc::connect_timeout;
  Clock::time_point timer_at_ = kNever;
  std::uint64_t timer_gen_ = 0;

  std::vector<std::string> caps_;
  bool caps_known_ = false;
  std::uint64_t caps_generation_ = 0;
  std::vector<std::string> enabled_;
  std::string greeting_;
  UntaggedHandler session_handler_;
  std::function<void(TraceDirection, std::string_view)> trace_;
  std::function<void(error_code)> closed_handler_;
  std::uint64_t malformed_ = 0;
  error_code failure_;
};

// ---- Client -----------------------------------------------------------------------------------

Client::Client(executor_type ex, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(options))) {}

Client::~Client() {
  if (!impl_) return;
  // Whoever destroys the client wants no more notifications; pending operations still complete
  // (with operation_aborted), as Asio objects do.
  impl_->closed_handler_ = nullptr;
  impl_->session_handler_ = nullptr;
  impl_->trace_ = nullptr;
  impl_->fail(asio::error::operation_aborted);
}

Client::executor_type Client::get_executor() const noexcept { return impl_->ex_; }

void Client::start_connect(ConnectHandler h) {
  asio::dispatch(impl_->ex_, [impl = impl_, h = std::move(h)]() mutable { impl->start_connect(std::move(h)); });
}

void Client::start_command(ClientCommand cmd, CommandHandler h) {
  asio::dispatch(impl_->ex_, [impl = impl_, cmd = std::move(cmd), h = std::move(h)]() mutable {
    impl->start_command(std::move(cmd), std::move(h));
  });
}

void Client::start_compress(CommandHandler h) {
  asio::dispatch(impl_->ex_, [impl = impl_, h = std::move(h)]() mutable { impl->start_compress(std::move(h)); });
}

void Client::start_idle(UntaggedHandler on_untagged, ConnectHandler h) {
  asio::dispatch(impl_->ex_, [impl = impl_, u = std::move(on_untagged), h = std::move(h)]() mutable {
    impl->start_idle(std::move(u), std::move(h));
  });
}

void Client::start_idle_done(CommandHandler h) {
  asio::dispatch(impl_->ex_, [impl = impl_, h = std::move(h)]() mutable { impl->start_idle_done(std::move(h)); });
}

ClientCommand Client::login_command(std::string_view user, std::string_view password) {
  return ClientCommand("LOGIN").astring(user).astring(password).sensitive();
}

ClientCommand Client::authenticate_plain_command(std::string_view authcid, std::string_view password,
                                                 std::string_view authzid) const {
  std::string msg(authzid);
  msg += '\0';
  msg += authcid;
  msg += '\0';
  msg += password;
  const std::string b64 = base64(msg);
  ClientCommand c("AUTHENTICATE PLAIN");
  if (impl_->has_cap("SASL-IR")) {
    c.arg(b64);
  } else {
    c.continuation(b64);
  }
  return c.sensitive();
}

const std::string& Client::options_separator() const noexcept { return impl_->opt_.master_user_separator; }

void Client::set_untagged_handler(UntaggedHandler h) { impl_->session_handler_ = std::move(h); }
void Client::set_trace(std::function<void(TraceDirection, std::string_view)> trace) {
  impl_->trace_ = std::move(trace);
}
void Client::set_closed_handler(std::function<void(boost::system::error_code)> h) {
  impl_->closed_handler_ = std::move(h);
}
void Client::close() {
  asio::dispatch(impl_->ex_, [impl = impl_] { impl->fail(asio::error::operation_aborted); });
}

bool Client::connected() const noexcept { return impl_->state_ == Impl::State::connected; }
bool Client::tls_active() const noexcept { return impl_->tls_ != nullptr; }
bool Client::compression_active() const noexcept { return impl_->deflate_ != nullptr; }
bool Client::idling() const noexcept { return impl_->idle_op_ && impl_->idle_op_->idle_active; }
std::size_t Client::commands_in_flight() const noexcept { return impl_->inflight_.size() + impl_->pending_.size(); }
bool Client::has_capability(std::string_view cap) const { return impl_->has_cap(cap); }
std::vector<std::string> Client::capabilities() const { return impl_->caps_; }
bool Client::is_enabled(std::string_view cap) const {
  return std::any_of(impl_->enabled_.begin(), impl_->enabled_.end(),
                     [&](const std::string& e) { return ascii_iequals(e, cap); });
}
std::string Client::greeting() const { return impl_->greeting_; }
std::uint64_t Client::malformed_responses() const noexcept { return impl_->malformed_; }
boost::system::error_code Client::last_error() const noexcept { return impl_->failure_; }

}  // namespace pimap::imap
