#pragma once

// Errors of the IMAP client (pimap::imap::Client) as boost::system error codes. A command that the
// server answered NO or BAD is not an error: it completes with an empty error_code and
// CommandResult::status says so. Errors are about the connection: timeouts, TLS, protocol breaks.
// Transport errors (boost::asio::error::*, SSL errors such as "certificate verify failed") are
// passed through unchanged.

#include <boost/system/error_code.hpp>

namespace pimap::imap {

enum class ClientErrc {
  connect_timeout = 1,   // resolving + TCP connect took longer than connect_timeout
  tls_timeout,           // TLS handshake (implicit or after STARTTLS) took longer than tls_timeout
  greeting_timeout,      // no server greeting within greeting_timeout
  command_timeout,       // no tagged response (or `+`) within the command's timeout
  greeting_rejected,     // the server greeted with BYE
  bad_greeting,          // the first response was not an untagged OK / PREAUTH / BYE
  starttls_unsupported,  // security = starttls but the server does not offer STARTTLS
  starttls_rejected,     // the server answered STARTTLS with NO / BAD
  tls_injection,         // plaintext bytes followed the STARTTLS OK (RFC 3501 11.1; CVE-2011-0411)
  connection_closed,     // the server closed the connection (after BYE or without)
  closed,                // the connection had failed or was closed before this operation completed
  not_connected,         // operation needs a connected client
  protocol_error,        // a tagged response or `+` the client cannot place, or a malformed one
  idle_rejected,         // the server answered IDLE with NO / BAD
  not_idling,            // idle_done() without a running IDLE
  compression_error,     // zlib failure on the COMPRESS=DEFLATE stream
  invalid_command,       // command text with CR/LF or NUL, or an unusable argument
};

const boost::system::error_category& client_category() noexcept;

inline boost::system::error_code make_error_code(ClientErrc e) noexcept {
  return {static_cast<int>(e), client_category()};
}

}  // namespace pimap::imap

template <>
struct boost::system::is_error_code_enum<pimap::imap::ClientErrc> : std::true_type {};
