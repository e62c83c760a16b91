#pragma once
// TLS configuration shared by many connections: one SSL_CTX per listener (server) or per backend
// (client). Connections take their own reference to the SSL_CTX while they handshake, so a
// TlsContext may be destroyed while handshakes are still running.
//
// Memory is the design constraint: an OpenSSL 3 SSL object costs ~8.5 KiB before the handshake and
// ~14 KiB after it even with SSL_MODE_RELEASE_BUFFERS, more than the 8 KiB budget for an idle
// session. Server contexts therefore enable "lean records" by default: OpenSSL performs the
// handshake, then the connection keeps only the negotiated AEAD keys and sequence numbers (~250 B)
// and frees the SSL object (see src/record_layer.hpp). That is why only AEAD cipher suites are
// offered (TLS 1.2: ECDHE with AES-GCM or ChaCha20-Poly1305; TLS 1.3: its three default suites),
// which is also what current guidance asks for.

#include <memory>
#include <string>

using SSL_CTX = struct ssl_ctx_st;

namespace pimap::net {

struct ServerTlsOptions {
  std::string cert_chain_file;  // PEM, leaf first
  std::string key_file;         // PEM
  // TLS 1.2 cipher list (OpenSSL syntax). Must stay AEAD-only for lean records.
  std::string ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!SHA1";
  // Stateful session cache for TLS 1.2 session-id resumption; TLS 1.3 and TLS 1.2 ticket
  // resumption are stateless (session tickets stay on). Entries are ~1-2 KiB each, so keep it small.
  long session_cache_size = 1024;
  long session_timeout_seconds = 3600;
  // TLS 1.3 tickets sent after a full handshake (OpenSSL's default is 2; one is enough to resume).
  int tls13_tickets = 1;
  // Free the SSL object after the handshake and protect records with the kept keys only.
  bool lean_records = true;
};

struct ClientTlsOptions {
  std::string ca_file;  // PEM bundle of trusted roots; empty: the system's default paths
  bool verify_peer = true;  // certificate chain and, with a server_name, hostname verification
};

class TlsContext {
 public:
  // Both throw std::runtime_error naming the file and OpenSSL's reason on failure.
  static TlsContext server(const ServerTlsOptions& options);
  static TlsContext client(const ClientTlsOptions& options);

  TlsContext(TlsContext&&) noexcept;
  TlsContext& operator=(TlsContext&&) noexcept;
  ~TlsContext();

  SSL_CTX* native() const noexcept { return ctx_.get(); }
  bool is_server() const noexcept { return server_; }
  bool lean_records() const noexcept { return lean_records_; }

 private:
  struct Free {
    void operator()(SSL_CTX* ctx) const noexcept;
  };
  TlsContext(SSL_CTX* ctx, bool server, bool lean);

  std::unique_ptr<SSL_CTX, Free> ctx_;
  bool server_ = false;
  bool lean_records_ = false;
};

}  // namespace pimap::net
