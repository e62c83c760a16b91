#include "pimap/imap/client_error.hpp"

#include <string>

namespace pimap::imap {

namespace {

// boost::system::error_category's destructor is protected and non-virtual by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class ClientCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "pimap.imap.client"; }
  std::string message(int ev) const override {
    switch (static_cast<ClientErrc>(ev)) {
      case ClientErrc::connect_timeout: return "IMAP connect timed out";
      case ClientErrc::tls_timeout: return "IMAP TLS handshake timed out";
      case ClientErrc::greeting_timeout: return "IMAP server sent no greeting in time";
      case ClientErrc::command_timeout: return "IMAP command timed out waiting for the server";
      case ClientErrc::greeting_rejected: return "IMAP server refused the connection (BYE greeting)";
      case ClientErrc::bad_greeting: return "IMAP server greeting is not OK, PREAUTH or BYE";
      case ClientErrc::starttls_unsupported: return "IMAP server does not offer STARTTLS";
      case ClientErrc::starttls_rejected: return "IMAP server rejected STARTTLS";
      case ClientErrc::tls_injection: return "IMAP server sent plaintext after the STARTTLS OK";
      case ClientErrc::connection_closed: return "IMAP server closed the connection";
      case ClientErrc::closed: return "IMAP connection closed before the operation completed";
      case ClientErrc::not_connected: return "IMAP client is not connected";
      case ClientErrc::protocol_error: return "IMAP protocol error (unexpected or malformed server response)";
      case ClientErrc::idle_rejected: return "IMAP server rejected IDLE";
      case ClientErrc::not_idling: return "IMAP client is not in IDLE";
      case ClientErrc::compression_error: return "IMAP COMPRESS=DEFLATE stream error";
      case ClientErrc::invalid_command: return "IMAP command text is not valid";
    }
    return "unknown IMAP client error";
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& client_category() noexcept {
  static const ClientCategory category;
  return category;
}

}  // namespace pimap::imap
