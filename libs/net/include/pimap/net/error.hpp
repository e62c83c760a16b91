#pragma once
// Errors the connection layer reports on top of the system/Asio ones (connection reset, eof,
// operation_aborted keep their usual boost::asio::error values).

#include <boost/system/error_code.hpp>

namespace pimap::net {

enum class errc {
  // The write queue would exceed ConnectionOptions::max_output_bytes: the peer does not read fast
  // enough. Nothing was queued; the owner should drop the client (abort()).
  slow_consumer = 1,
  // The TLS handshake did not finish within ConnectionOptions::handshake_timeout. The connection
  // has been aborted.
  handshake_timeout,
  // No input arrived within ConnectionOptions::idle_timeout while a read was waiting. The
  // connection stays open; the owner decides (IMAP: "* BYE Autologout", then close()).
  idle_timeout,
  // Plaintext arrived after the STARTTLS command and before the TLS handshake (STARTTLS command
  // injection, CVE-2011-0411 style). The bytes were discarded and the connection aborted.
  plaintext_after_starttls,
  // The consumer left more than ConnectionOptions::max_retained_input unconsumed bytes (e.g. a
  // line without end). The connection stays open; the owner should answer and close.
  input_limit,
  // The peer sent a TLS record we cannot accept after the handshake (bad MAC, oversized record,
  // renegotiation attempt, fatal alert). The connection has been aborted.
  tls_protocol,
  // start_tls() on a connection that is already TLS, or another operation in the wrong state.
  bad_state,
};

const boost::system::error_category& net_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), net_category()};
}

// OpenSSL failures (handshake errors, certificate verification): value() is the packed
// ERR_get_error() code, message() OpenSSL's reason string (e.g. "certificate verify failed").
const boost::system::error_category& tls_category() noexcept;

}  // namespace pimap::net

template <>
struct boost::system::is_error_code_enum<pimap::net::errc> : std::true_type {};
