#pragma once
// One TCP connection, plaintext or TLS, built for tens of thousands of mostly idle peers per
// process: while idle it holds no read buffer, no write buffer and (with lean records) no OpenSSL
// object, only a pending readiness wait on the socket.
//
// Reading: async_read_some() waits for input, reads it into a buffer shared by all connections of
// the thread, and hands the bytes to the handler as a span. The handler returns how many bytes it
// consumed; the connection keeps the rest (exactly that many bytes) and presents them again in
// front of the next input. A line-based consumer therefore returns the length of the complete
// lines it handled and needs no buffer of its own.
//
// Writing: write() copies into a bounded output queue and flushes in the background. A queue that
// would grow past max_output_bytes reports errc::slow_consumer instead, so a stalled peer costs at
// most that much memory.
//
// TLS: start_tls() runs the handshake on the same object, for implicit TLS right after accept and
// for STARTTLS after the "OK Begin TLS" response (queued output is flushed first). Bytes the
// consumer left unconsumed after the STARTTLS command are never interpreted: the upgrade fails
// with errc::plaintext_after_starttls and the connection is aborted.
//
// Threading: a connection belongs to the io_context of its socket; call every member from that
// io_context's thread (handlers always run there). Handlers are never invoked from inside the
// call that registered them. Ownership follows the Asio examples: pending operations hold a
// shared_ptr, so a connection lives while it has work, and the owner keeps its own shared_ptr.

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

namespace pimap::net {

class TlsContext;

struct ConnectionOptions {
  // Bytes queued for the peer but not yet accepted by the kernel (plaintext, plus ciphertext
  // already sealed). Beyond it, write() reports errc::slow_consumer.
  std::size_t max_output_bytes = 256 * 1024;
  // Unconsumed input the connection keeps for the consumer; beyond it errc::input_limit.
  std::size_t max_retained_input = 64 * 1024;
  std::chrono::milliseconds handshake_timeout{10'000};
  // Zero disables. Runs while a read waits; reported as errc::idle_timeout.
  std::chrono::milliseconds idle_timeout{0};
  // How long close() waits for queued output and close_notify to leave before aborting.
  std::chrono::milliseconds close_timeout{5'000};
};

struct ConnectionStats {
  std::uint64_t bytes_in = 0;   // application bytes received (plaintext after TLS)
  std::uint64_t bytes_out = 0;  // application bytes accepted by write()
};

enum class Security : std::uint8_t {
  plaintext,
  tls_handshake,  // start_tls() in progress
  tls_openssl,    // TLS with the SSL object kept (client role, or lean records unavailable)
  tls_lean,       // TLS with only keys and sequence numbers kept (server role, AEAD suites)
};

class Connection {
 public:
  using error_code = boost::system::error_code;
  // Returns the number of bytes consumed from `data` (<= data.size()). Called with an error and
  // an empty span on failure (its return value is then ignored): asio::error::eof when the peer
  // closed (after TLS close_notify or a plain FIN), errc::idle_timeout, errc::input_limit,
  // operation_aborted after abort()/close().
  using ReadHandler = std::function<std::size_t(error_code, std::span<const char> data)>;
  using Handler = std::function<void(error_code)>;

  // Takes over an accepted or connected socket (any io_context). Throws nothing; a socket that
  // fails to switch to non-blocking mode reports the error on the first operation.
  static std::shared_ptr<Connection> create(boost::asio::ip::tcp::socket socket,
                                            const ConnectionOptions& options = {});

  virtual ~Connection() = default;

  // At most one read pending at a time.
  virtual void async_read_some(ReadHandler handler) = 0;

  // Queues bytes for the peer. Errors: errc::slow_consumer (nothing queued), errc::bad_state after
  // close()/abort() or during the handshake.
  virtual error_code write(std::string_view bytes) = 0;
  // Completes once everything queued so far has been handed to the kernel.
  virtual void async_flush(Handler handler) = 0;

  // Upgrades to TLS in place (server role for a server context, client role otherwise; a client
  // needs `server_name` for SNI and hostname verification). Must not be called while a read is
  // pending, except from inside the read handler that consumed the STARTTLS command: the
  // handshake then starts after the handler returns. On failure the connection is aborted and
  // `handler` gets a tls_category() error, errc::handshake_timeout or
  // errc::plaintext_after_starttls.
  virtual void start_tls(const TlsContext& context, Handler handler,
                         std::string_view server_name = {}) = 0;

  // Graceful: refuses further writes, flushes the queue, sends TLS close_notify, shuts the socket
  // down; aborts after close_timeout. `handler` (optional) runs when the socket is closed.
  virtual void close(Handler handler = {}) = 0;
  // Immediate: closes the socket; pending handlers get operation_aborted.
  virtual void abort() = 0;

  virtual bool is_open() const noexcept = 0;
  virtual Security security() const noexcept = 0;
  virtual std::size_t queued_output_bytes() const noexcept = 0;
  virtual ConnectionStats stats() const noexcept = 0;
  virtual const boost::asio::ip::tcp::endpoint& peer() const noexcept = 0;
  virtual boost::asio::any_io_executor executor() noexcept = 0;

  // Released when the socket closes; lets an owner (the Listener) count open connections.
  virtual void hold_slot(std::shared_ptr<void> slot) = 0;
};

}  // namespace pimap::net
