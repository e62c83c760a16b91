#include <pimap/net/error.hpp>

#include <openssl/err.h>

#include <string>

namespace pimap::net {
namespace {

// boost::system::error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

class NetCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "pimap.net"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::slow_consumer: return "slow consumer: output queue limit reached";
      case errc::handshake_timeout: return "TLS handshake timed out";
      case errc::idle_timeout: return "idle timeout";
      case errc::plaintext_after_starttls: return "plaintext pipelined after STARTTLS";
      case errc::input_limit: return "unconsumed input limit reached";
      case errc::tls_protocol: return "TLS protocol error after handshake";
      case errc::bad_state: return "operation not allowed in this connection state";
    }
    return "unknown pimap.net error";
  }
};

class TlsCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "pimap.tls"; }
  std::string message(int value) const override {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(value), buf, sizeof buf);
    return buf;
  }
};

#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& net_category() noexcept {
  static const NetCategory category;
  return category;
}

const boost::system::error_category& tls_category() noexcept {
  static const TlsCategory category;
  return category;
}

}  // namespace pimap::net
