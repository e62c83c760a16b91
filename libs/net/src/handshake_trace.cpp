#include "handshake_trace.hpp"

#include <openssl/crypto.h>

#include <cstring>
#include <string_view>

namespace pimap::net {
namespace {

int trace_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

HandshakeTrace* trace_of(const SSL* ssl) {
  return static_cast<HandshakeTrace*>(SSL_get_ex_data(ssl, trace_index()));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::size_t parse_hex(std::string_view hex, std::array<unsigned char, 64>& out) {
  if (hex.size() % 2 != 0 || hex.size() / 2 > out.size()) return 0;
  for (std::size_t i = 0; i < hex.size() / 2; ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return 0;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return hex.size() / 2;
}

// "LABEL <client_random hex> <secret hex>" (NSS key log format).
void on_keylog(const SSL* ssl, const char* line) {
  HandshakeTrace* t = trace_of(ssl);
  if (t == nullptr) return;
  std::string_view v(line);
  auto sp1 = v.find(' ');
  auto sp2 = v.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return;
  std::string_view label = v.substr(0, sp1), secret = v.substr(sp2 + 1);
  if (label == "CLIENT_TRAFFIC_SECRET_0") {
    t->client_secret_len = parse_hex(secret, t->client_secret);
  } else if (label == "SERVER_TRAFFIC_SECRET_0") {
    t->server_secret_len = parse_hex(secret, t->server_secret);
    // Logged when the server installs its application write keys, right after writing Finished.
    t->write_records = 0;
  }
}

void on_message(int write_p, int /*version*/, int content_type, const void* buf, std::size_t len,
                SSL* ssl, void* /*arg*/) {
  HandshakeTrace* t = trace_of(ssl);
  if (t == nullptr) return;
  const bool tls13 = SSL_version(ssl) == TLS1_3_VERSION;
  const unsigned char* bytes = static_cast<const unsigned char*>(buf);
  switch (content_type) {
    case SSL3_RT_HEADER: {  // one call per record, before the record's content
      std::uint64_t& records = write_p ? t->write_records : t->read_records;
      if (len > 0 && bytes[0] == SSL3_RT_CHANGE_CIPHER_SPEC) {
        // TLS 1.2: the records after it use the new keys. (OpenSSL 3.0 reports a received CCS
        // only here, not as content.) TLS 1.3's compatibility CCS is never protected.
        if (!tls13) records = 0;
      } else {
        ++records;
      }
      break;
    }
    case SSL3_RT_HANDSHAKE:
      // TLS 1.3: the peer's Finished is the last record under its handshake keys.
      if (tls13 && !write_p && len > 0 &&
          bytes[0] == SSL3_MT_FINISHED)
        t->read_records = 0;
      break;
    default:
      break;
  }
}

}  // namespace

HandshakeTrace::~HandshakeTrace() {
  OPENSSL_cleanse(client_secret.data(), client_secret.size());
  OPENSSL_cleanse(server_secret.data(), server_secret.size());
}

void HandshakeTrace::install(SSL_CTX* ctx) {
  trace_index();
  SSL_CTX_set_keylog_callback(ctx, &on_keylog);
  SSL_CTX_set_msg_callback(ctx, &on_message);
}

void HandshakeTrace::attach(SSL* ssl, HandshakeTrace* trace) {
  SSL_set_ex_data(ssl, trace_index(), trace);
}

}  // namespace pimap::net
