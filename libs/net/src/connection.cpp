// Connection: one socket, three ways to move bytes (plaintext, OpenSSL, lean records), one API.
// All Asio usage of the connection layer's per-connection path lives in this file.

#include <pimap/net/connection.hpp>
#include <pimap/net/error.hpp>
#include <pimap/net/tls_context.hpp>

#include "handshake_trace.hpp"
#include "record_layer.hpp"
#include "scratch.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pimap::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// OpenSSL's socket BIO writes with write(2): a peer that vanished would raise SIGPIPE.
void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

error_code system_error(int e) { return {e, boost::system::system_category()}; }

// The most specific OpenSSL error of a failed call, consuming the thread's error queue.
error_code take_tls_error(int fallback_errno) {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) {
    return fallback_errno != 0 ? system_error(fallback_errno)
                               : error_code(asio::error::eof);  // peer closed mid-handshake
  }
  if (ERR_SYSTEM_ERROR(last)) return system_error(ERR_GET_REASON(last));
  return {static_cast<int>(last), tls_category()};
}

std::string exact_copy(const char* data, std::size_t size) { return std::string(data, size); }

void release(std::string& s) { std::string().swap(s); }

class ConnectionImpl final : public Connection,
                             public std::enable_shared_from_this<ConnectionImpl> {
 public:
  ConnectionImpl(tcp::socket socket, const ConnectionOptions& options)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), options_(options) {
    error_code ec;
    peer_ = socket_.remote_endpoint(ec);
    socket_.non_blocking(true, ec);
    if (!ec) socket_.native_non_blocking(true, ec);
    if (ec) deferred_read_error_ = ec;
  }

  ~ConnectionImpl() override { free_ssl(); }

  // --- reading ---------------------------------------------------------------------------------

  void async_read_some(ReadHandler handler) override {
    if (read_handler_ || !open_ || closing_ || security_ == Security::tls_handshake) {
      const error_code ec = !open_ || closing_ ? error_code(asio::error::operation_aborted)
                                               : make_error_code(errc::bad_state);
      asio::post(socket_.get_executor(), [h = std::move(handler), ec] { h(ec, {}); });
      return;
    }
    read_handler_ = std::move(handler);
    if (!in_read_callback_) schedule_read();
  }

  // --- writing ---------------------------------------------------------------------------------

  error_code write(std::string_view bytes) override {
    if (!open_ || closing_ || (tls_ && tls_->begun)) return make_error_code(errc::bad_state);
    if (queued_output_bytes() + bytes.size() > options_.max_output_bytes)
      return make_error_code(errc::slow_consumer);
    if (out_pos_ == out_.size()) {
      out_.clear();
      out_pos_ = 0;
    }
    out_.append(bytes);
    stats_.bytes_out += bytes.size();
    schedule_flush();
    return {};
  }

  void async_flush(Handler handler) override {
    if (!open_) {
      post_error(std::move(handler), asio::error::operation_aborted);
      return;
    }
    flush_handlers_.push_back(std::move(handler));
    schedule_flush();
  }

  // --- TLS -------------------------------------------------------------------------------------

  void start_tls(const TlsContext& context, Handler handler, std::string_view server_name) override {
    if (!open_ || closing_ || security_ != Security::plaintext || tls_ ||
        (read_handler_ && !in_read_callback_)) {
      post_error(std::move(handler), open_ ? make_error_code(errc::bad_state)
                                           : error_code(asio::error::operation_aborted));
      return;
    }
    ignore_sigpipe();
    ssl_ = SSL_new(context.native());
    if (ssl_ == nullptr || SSL_set_fd(ssl_, socket_.native_handle()) != 1) {
      post_error(std::move(handler), take_tls_error(ENOMEM));
      free_ssl();
      return;
    }
    tls_ = std::make_unique<PendingTls>();
    tls_->handler = std::move(handler);
    if (context.is_server()) {
      SSL_set_accept_state(ssl_);
      if (context.lean_records()) {
        tls_->lean = true;
        HandshakeTrace::attach(ssl_, &tls_->trace);
      }
    } else {
      SSL_set_connect_state(ssl_);
      if (!server_name.empty()) {
        const std::string name(server_name);
        error_code ec;
        asio::ip::make_address(name, ec);
        if (ec) {  // SNI carries names only (SSL_set_tlsext_host_name without its C cast)
          SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(name.c_str()));
        }
        if (ec ? SSL_set1_host(ssl_, name.c_str()) != 1
               : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str()) != 1) {
          fail_tls(take_tls_error(EINVAL));
          return;
        }
      }
    }
    security_ = Security::tls_handshake;
    // From inside the read handler, wait to see whether it left pipelined input behind.
    if (in_read_callback_) {
      tls_->deferred = true;
      return;
    }
    begin_tls();
  }

  // --- closing ---------------------------------------------------------------------------------

  void close(Handler handler) override {
    if (!open_) {
      if (handler) post_error(std::move(handler), {});
      return;
    }
    if (handler) close_handlers_.push_back(std::move(handler));
    if (closing_) return;
    if (security_ == Security::tls_handshake) {
      abort_with(asio::error::operation_aborted);
      return;
    }
    closing_ = true;
    if (read_handler_) post_read_error(asio::error::operation_aborted);
    arm_timer(TimerUse::close, options_.close_timeout);
    schedule_flush();  // flush() continues with finish_close() once the queue is empty
  }

  void abort() override { abort_with(asio::error::operation_aborted); }

  // --- observers -------------------------------------------------------------------------------

  bool is_open() const noexcept override { return open_; }
  Security security() const noexcept override { return security_; }
  std::size_t queued_output_bytes() const noexcept override {
    return (out_.size() - out_pos_) + (wire_.size() - wire_pos_);
  }
  ConnectionStats stats() const noexcept override { return stats_; }
  const tcp::endpoint& peer() const noexcept override { return peer_; }
  asio::any_io_executor executor() noexcept override { return socket_.get_executor(); }
  void hold_slot(std::shared_ptr<void> slot) override {
    if (open_) slot_ = std::move(slot);
  }

 private:
  enum class TimerUse : std::uint8_t { none, handshake, idle, close };
  struct PendingTls {
    HandshakeTrace trace;
    Handler handler;
    bool lean = false;      // try to continue without the SSL object afterwards
    bool deferred = false;  // requested from inside the read handler
    bool begun = false;     // plaintext output flushed, handshake running
  };

  int fd() { return socket_.native_handle(); }

  void post_error(Handler h, error_code ec) {
    if (h) asio::post(socket_.get_executor(), [h = std::move(h), ec] { h(ec); });
  }
  void post_read_error(error_code ec) {
    asio::post(socket_.get_executor(),
               [h = std::exchange(read_handler_, nullptr), ec] { h(ec, {}); });
  }

  // --- timer: one per connection, for whichever deadline currently applies -----------------

  void arm_timer(TimerUse use, std::chrono::milliseconds after) {
    if (after.count() <= 0) return;
    timer_use_ = use;
    const std::uint32_t generation = ++timer_generation_;
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
      if (ec || generation != self->timer_generation_ || !self->open_) return;
      self->on_timer();
    });
  }

  void disarm_timer(TimerUse use) {
    if (timer_use_ != use) return;
    timer_use_ = TimerUse::none;
    ++timer_generation_;
    timer_.cancel();
  }

  void on_timer() {
    const TimerUse use = std::exchange(timer_use_, TimerUse::none);
    switch (use) {
      case TimerUse::handshake:
        fail_tls(make_error_code(errc::handshake_timeout));
        break;
      case TimerUse::idle:
        // The readiness wait stays pending; a later async_read_some() picks it up again.
        if (read_handler_) post_read_error(make_error_code(errc::idle_timeout));
        break;
      case TimerUse::close:
        abort_with(asio::error::timed_out);
        break;
      case TimerUse::none:
        break;
    }
  }

  // --- read path -------------------------------------------------------------------------------

  bool input_buffered() const {
    if (more_input_) return true;
    return ssl_ != nullptr && security_ == Security::tls_openssl && SSL_has_pending(ssl_) == 1;
  }

  void schedule_read() {
    if (deferred_read_error_) {
      post_read_error(std::exchange(deferred_read_error_, {}));
      return;
    }
    if (peer_eof_) {
      post_read_error(asio::error::eof);
      return;
    }
    if (input_buffered()) {
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->do_read(); });
      return;
    }
    if (timer_use_ == TimerUse::none) arm_timer(TimerUse::idle, options_.idle_timeout);
    if (read_wait_) return;
    read_wait_ = true;
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
      self->read_wait_ = false;
      if (!self->open_ || self->closing_ || !self->read_handler_) return;
      if (ec) {
        self->abort_with(ec);
        return;
      }
      self->do_read();
    });
  }

  struct Input {
    std::size_t got = 0;  // new application bytes after the retained ones
    bool eof = false;
    error_code error;     // fatal
  };

  Input read_plain(char* dst, std::size_t cap) {
    Input in;
    more_input_ = false;
    const ssize_t n = ::recv(fd(), dst, cap, 0);
    if (n > 0) {
      in.got = static_cast<std::size_t>(n);
      more_input_ = in.got == cap;
    } else if (n == 0) {
      in.eof = true;
    } else if (errno == EINTR) {
      more_input_ = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      in.error = system_error(errno);
    }
    return in;
  }

  Input read_openssl(char* dst, std::size_t cap) {
    Input in;
    more_input_ = false;
    while (in.got < cap) {
      ERR_clear_error();
      const int r = SSL_read(ssl_, dst + in.got, static_cast<int>(cap - in.got));
      if (r > 0) {
        in.got += static_cast<std::size_t>(r);
        continue;
      }
      const int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_WANT_READ) break;
      if (err == SSL_ERROR_WANT_WRITE) {  // TLS 1.3 KeyUpdate answer blocked: retry soon
        more_input_ = true;
        break;
      }
      if (err == SSL_ERROR_ZERO_RETURN) {
        in.eof = true;
      } else {
        in.error = take_tls_error(errno);
        if (in.error == asio::error::eof) {
          in.eof = true;
          in.error = {};
        }
      }
      break;
    }
    return in;
  }

  Input read_lean(char* dst, std::size_t cap) {
    Input in;
    more_input_ = false;
    const std::size_t carried = partial_.size();
    char* cipher = Scratch::cipher(carried + Scratch::kReadChunk);
    std::memcpy(cipher, partial_.data(), carried);
    std::size_t total = carried;
    bool filled = false;
    const ssize_t n = ::recv(fd(), cipher + carried, Scratch::kReadChunk, 0);
    if (n > 0) {
      total += static_cast<std::size_t>(n);
      filled = static_cast<std::size_t>(n) == Scratch::kReadChunk;
    } else if (n == 0) {
      in.eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      in.error = system_error(errno);
      return in;
    }
    const std::size_t wire_before = wire_.size();
    RecordLayer::Opened opened = records_->open({cipher, total}, dst, cap, wire_);
    in.got = opened.produced;
    if (wire_.size() != wire_before) schedule_flush();
    if (opened.error) {
      in.error = opened.error;
      return in;
    }
    if (opened.close_notify) {
      in.eof = true;
      release(partial_);
      return in;
    }
    // Keep what open() left: normally one incomplete record (a peer trickling one costs at most
    // ~18 KiB), briefly more when the plaintext buffer filled up.
    const std::size_t rest = total - opened.consumed;
    partial_ = rest == 0 ? std::string() : exact_copy(cipher + opened.consumed, rest);
    const bool complete_record_waiting =
        rest >= RecordLayer::kHeader &&
        rest >= RecordLayer::kHeader + ((std::size_t{static_cast<unsigned char>(partial_[3])} << 8) |
                                        static_cast<unsigned char>(partial_[4]));
    more_input_ = filled || complete_record_waiting;
    if (in.eof && !partial_.empty()) release(partial_);
    return in;
  }

  void do_read() {
    if (!open_ || closing_ || !read_handler_ || security_ == Security::tls_handshake) return;
    const std::size_t kept = retained_.size();
    const std::size_t cap = Scratch::kReadChunk + RecordLayer::kMaxPlaintext;
    char* plain = Scratch::plain(kept + cap);
    std::memcpy(plain, retained_.data(), kept);

    Input in;
    switch (security_) {
      case Security::plaintext: in = read_plain(plain + kept, cap); break;
      case Security::tls_openssl: in = read_openssl(plain + kept, cap); break;
      case Security::tls_lean: in = read_lean(plain + kept, cap); break;
      case Security::tls_handshake: return;
    }
    if (in.error) {
      if (records_ && wire_pos_ < wire_.size()) {  // the alert explaining why, best effort
        error_code ignored;
        send_raw(wire_, wire_pos_, ignored);
      }
      abort_with(in.error);
      return;
    }
    if (in.eof) peer_eof_ = true;
    if (in.got == 0) {
      if (peer_eof_) post_read_error(asio::error::eof);
      else schedule_read();  // spurious wake-up, or only part of a record arrived
      return;
    }

    disarm_timer(TimerUse::idle);
    release(retained_);
    stats_.bytes_in += in.got;
    const std::size_t available = kept + in.got;
    auto handler = std::exchange(read_handler_, nullptr);
    in_read_callback_ = true;
    std::size_t consumed = handler({}, std::span<const char>(plain, available));
    in_read_callback_ = false;
    if (!open_) return;
    if (consumed > available) consumed = available;
    const std::size_t tail = available - consumed;

    if (tls_ && tls_->deferred) {
      if (tail > 0) {  // pipelined after STARTTLS: never interpret it, never keep it
        fail_tls(make_error_code(errc::plaintext_after_starttls));
        return;
      }
      begin_tls();
    } else if (tail > options_.max_retained_input) {
      deferred_read_error_ = make_error_code(errc::input_limit);
    } else if (tail > 0) {
      retained_ = exact_copy(plain + consumed, tail);
    }
    if (read_handler_) schedule_read();
  }

  // --- write path ------------------------------------------------------------------------------

  void schedule_flush() {
    if (flush_posted_ || write_wait_ || !open_) return;
    flush_posted_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->flush_posted_ = false;
      self->flush();
    });
  }

  enum class Sent { all, blocked, failed };

  Sent send_raw(std::string& buf, std::size_t& pos, error_code& ec) {
    while (pos < buf.size()) {
      const ssize_t n = ::send(fd(), buf.data() + pos, buf.size() - pos, MSG_NOSIGNAL);
      if (n > 0) {
        pos += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return Sent::blocked;
      } else {
        ec = system_error(n < 0 ? errno : EPIPE);
        return Sent::failed;
      }
    }
    release(buf);
    pos = 0;
    return Sent::all;
  }

  Sent send_openssl(error_code& ec) {
    while (out_pos_ < out_.size()) {
      ERR_clear_error();
      const int r = SSL_write(ssl_, out_.data() + out_pos_,
                              static_cast<int>(std::min<std::size_t>(out_.size() - out_pos_, 1 << 20)));
      if (r > 0) {
        out_pos_ += static_cast<std::size_t>(r);
        continue;
      }
      const int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return Sent::blocked;
      ec = take_tls_error(EPIPE);
      return Sent::failed;
    }
    release(out_);
    out_pos_ = 0;
    return Sent::all;
  }

  void flush() {
    if (!open_) return;
    error_code ec;
    Sent sent;
    const bool handshaking = tls_ && tls_->begun;
    if (records_) {
      if (out_pos_ < out_.size()) {
        records_->seal(RecordLayer::application_data,
                       std::span<const char>(out_.data() + out_pos_, out_.size() - out_pos_), wire_);
        release(out_);
        out_pos_ = 0;
      }
      sent = send_raw(wire_, wire_pos_, ec);
    } else if (ssl_ != nullptr && !handshaking && security_ == Security::tls_openssl) {
      sent = send_openssl(ec);
    } else if (handshaking) {
      return;  // nothing is queued while OpenSSL drives the socket
    } else {
      sent = send_raw(out_, out_pos_, ec);
    }

    if (sent == Sent::failed) {
      abort_with(ec);
      return;
    }
    if (sent == Sent::blocked) {
      write_wait_ = true;
      socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](error_code wec) {
        self->write_wait_ = false;
        if (!self->open_) return;
        if (wec) {
          self->abort_with(wec);
          return;
        }
        self->flush();
      });
      return;
    }
    auto handlers = std::move(flush_handlers_);
    flush_handlers_.clear();
    for (auto& h : handlers) {
      if (h) h({});
    }
    if (closing_ && open_ && queued_output_bytes() == 0) finish_close();
  }

  // --- TLS handshake ---------------------------------------------------------------------------

  void begin_tls() {
    tls_->deferred = false;
    if (!retained_.empty()) {  // left over from an earlier read: pipelined plaintext as well
      fail_tls(make_error_code(errc::plaintext_after_starttls));
      return;
    }
    arm_timer(TimerUse::handshake, options_.handshake_timeout);
    // The plaintext response to STARTTLS must leave before the first handshake byte.
    flush_handlers_.push_back([this, self = shared_from_this()](error_code ec) {
      if (!tls_) return;
      if (ec) {
        fail_tls(ec);
        return;
      }
      tls_->begun = true;
      do_handshake();
    });
    schedule_flush();
  }

  void do_handshake() {
    if (!open_ || !tls_) return;
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      finish_handshake();
      return;
    }
    const int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      socket_.async_wait(err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write,
                         [self = shared_from_this()](error_code ec) {
                           if (!self->open_ || !self->tls_) return;
                           if (ec) {
                             self->fail_tls(ec);
                             return;
                           }
                           self->do_handshake();
                         });
      return;
    }
    fail_tls(take_tls_error(err == SSL_ERROR_SYSCALL ? errno : 0));
  }

  void finish_handshake() {
    disarm_timer(TimerUse::handshake);
    HandshakeTrace::attach(ssl_, nullptr);
    if (tls_->lean && SSL_has_pending(ssl_) == 0 && BIO_wpending(SSL_get_wbio(ssl_)) == 0)
      records_ = RecordLayer::adopt(ssl_, tls_->trace);
    if (records_) {
      free_ssl();
      security_ = Security::tls_lean;
    } else {
      security_ = Security::tls_openssl;
    }
    auto handler = std::move(tls_->handler);
    tls_.reset();
    if (handler) handler({});
    if (open_ && queued_output_bytes() > 0) schedule_flush();
  }

  void fail_tls(error_code ec) {
    Handler handler = tls_ ? std::move(tls_->handler) : Handler();
    if (ssl_ != nullptr) HandshakeTrace::attach(ssl_, nullptr);
    tls_.reset();
    abort_with(asio::error::operation_aborted);
    post_error(std::move(handler), ec);
  }

  // --- teardown --------------------------------------------------------------------------------

  void finish_close() {
    disarm_timer(TimerUse::close);
    error_code ignored;
    if (records_) {
      records_->seal_close_notify(wire_);
      send_raw(wire_, wire_pos_, ignored);  // 24 bytes into an empty socket buffer
    } else if (ssl_ != nullptr && security_ == Security::tls_openssl) {
      ERR_clear_error();
      SSL_shutdown(ssl_);  // sends close_notify; the peer's is not awaited
      ERR_clear_error();
    }
    // Half-close, then let the peer see our last bytes before the socket goes: closing with
    // unread input would send a RST that can destroy them in flight.
    ::shutdown(fd(), SHUT_WR);
    arm_timer(TimerUse::close, options_.close_timeout);
    linger();
  }

  void linger() {
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
      if (!self->open_) return;
      char sink[4096];
      ssize_t n = ec ? 0 : ::recv(self->fd(), sink, sizeof sink, 0);
      while (n > 0) n = ::recv(self->fd(), sink, sizeof sink, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        self->linger();
        return;
      }
      self->disarm_timer(TimerUse::close);
      self->abort_with({});
    });
  }

  void free_ssl() {
    if (ssl_ == nullptr) return;
    HandshakeTrace::attach(ssl_, nullptr);
    SSL_free(ssl_);
    ssl_ = nullptr;
  }

  // Closes the socket and completes everything pending: close handlers with `ec` when it is
  // success (a finished graceful close) and the rest with operation_aborted or `ec`.
  void abort_with(error_code ec) {
    if (!open_) return;
    open_ = false;
    ++timer_generation_;
    timer_use_ = TimerUse::none;
    timer_.cancel();
    error_code ignored;
    socket_.close(ignored);
    free_ssl();
    records_.reset();
    release(retained_);
    release(partial_);
    release(out_);
    release(wire_);
    out_pos_ = wire_pos_ = 0;
    slot_.reset();
    const error_code aborted = ec ? ec : error_code(asio::error::operation_aborted);
    if (read_handler_) post_read_error(aborted);
    if (tls_) {
      post_error(std::move(tls_->handler), aborted);
      tls_.reset();
    }
    for (auto& h : std::exchange(flush_handlers_, {})) post_error(std::move(h), aborted);
    for (auto& h : std::exchange(close_handlers_, {})) post_error(std::move(h), ec);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  ConnectionOptions options_;
  tcp::endpoint peer_;
  ConnectionStats stats_;
  SSL* ssl_ = nullptr;                     // handshake, or TLS without lean records
  std::unique_ptr<RecordLayer> records_;   // lean TLS
  std::unique_ptr<PendingTls> tls_;        // only while start_tls() is in progress
  std::string retained_;                   // input the consumer left unconsumed
  std::string partial_;                    // lean TLS: an incomplete record
  std::string out_;                        // plaintext not yet sent / sealed
  std::size_t out_pos_ = 0;
  std::string wire_;                       // lean TLS: sealed records not yet sent
  std::size_t wire_pos_ = 0;
  ReadHandler read_handler_;
  std::vector<Handler> flush_handlers_;
  std::vector<Handler> close_handlers_;
  std::shared_ptr<void> slot_;
  error_code deferred_read_error_;
  std::uint32_t timer_generation_ = 0;
  Security security_ = Security::plaintext;
  TimerUse timer_use_ = TimerUse::none;
  bool open_ = true;
  bool closing_ = false;
  bool read_wait_ = false;
  bool write_wait_ = false;
  bool flush_posted_ = false;
  bool in_read_callback_ = false;
  bool peer_eof_ = false;
  bool more_input_ = false;
};

}  // namespace

std::shared_ptr<Connection> Connection::create(boost::asio::ip::tcp::socket socket,
                                               const ConnectionOptions& options) {
  ignore_sigpipe();
  return std::make_shared<ConnectionImpl>(std::move(socket), options);
}

}  // namespace pimap::net
