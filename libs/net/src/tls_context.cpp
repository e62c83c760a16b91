#include <pimap/net/tls_context.hpp>

#include "handshake_trace.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>
#include <string>

namespace pimap::net {
namespace {

[[noreturn]] void fail(const std::string& what) {
  char reason[256] = "unknown reason";
  if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, reason, sizeof reason);
  ERR_clear_error();
  throw std::runtime_error("tls: " + what + ": " + reason);
}

constexpr long kModes =
    SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;

}  // namespace

void TlsContext::Free::operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }

TlsContext::TlsContext(SSL_CTX* ctx, bool server, bool lean)
    : ctx_(ctx), server_(server), lean_records_(lean) {}
TlsContext::TlsContext(TlsContext&&) noexcept = default;
TlsContext& TlsContext::operator=(TlsContext&&) noexcept = default;
TlsContext::~TlsContext() = default;

TlsContext TlsContext::server(const ServerTlsOptions& o) {
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (raw == nullptr) fail("SSL_CTX_new");
  TlsContext ctx(raw, true, o.lean_records);
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(raw, kModes);
  if (SSL_CTX_set_cipher_list(raw, o.ciphers.c_str()) != 1) fail("cipher list '" + o.ciphers + "'");
  if (SSL_CTX_use_certificate_chain_file(raw, o.cert_chain_file.c_str()) != 1)
    fail("certificate " + o.cert_chain_file);
  if (SSL_CTX_use_PrivateKey_file(raw, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    fail("private key " + o.key_file);
  if (SSL_CTX_check_private_key(raw) != 1) fail("key does not match " + o.cert_chain_file);

  static constexpr unsigned char kSessionIdContext[] = "pimap";
  SSL_CTX_set_session_id_context(raw, kSessionIdContext, sizeof kSessionIdContext - 1);
  if (o.session_cache_size > 0) {
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(raw, o.session_cache_size);
  } else {
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  }
  SSL_CTX_set_timeout(raw, o.session_timeout_seconds);
  SSL_CTX_set_num_tickets(raw, static_cast<std::size_t>(o.tls13_tickets < 0 ? 0 : o.tls13_tickets));
  if (o.lean_records) HandshakeTrace::install(raw);
  return ctx;
}

TlsContext TlsContext::client(const ClientTlsOptions& o) {
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (raw == nullptr) fail("SSL_CTX_new");
  TlsContext ctx(raw, false, false);
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(raw, kModes);
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  if (o.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(raw) != 1) fail("default CA paths");
  } else if (SSL_CTX_load_verify_locations(raw, o.ca_file.c_str(), nullptr) != 1) {
    fail("CA file " + o.ca_file);
  }
  SSL_CTX_set_verify(raw, o.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return ctx;
}

}  // namespace pimap::net
