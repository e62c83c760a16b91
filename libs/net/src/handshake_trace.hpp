#pragma once
// What a lean-records connection must learn from OpenSSL during the handshake to carry on without
// the SSL object: the TLS 1.3 application traffic secrets (OpenSSL exposes them only through the
// key-log callback) and how many records each direction has protected under the current keys
// (the record sequence numbers, which OpenSSL does not expose at all). Both are observed through
// callbacks installed on the SSL_CTX and attached per SSL while the handshake runs.

#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace pimap::net {

struct HandshakeTrace {
  std::array<unsigned char, 64> client_secret{};
  std::array<unsigned char, 64> server_secret{};
  std::size_t client_secret_len = 0;
  std::size_t server_secret_len = 0;
  // Records read / written since the last key change (TLS 1.2: ChangeCipherSpec; TLS 1.3: the
  // switch to application traffic keys). These are the next sequence numbers.
  std::uint64_t read_records = 0;
  std::uint64_t write_records = 0;

  HandshakeTrace() = default;
  HandshakeTrace(const HandshakeTrace&) = delete;
  HandshakeTrace& operator=(const HandshakeTrace&) = delete;
  ~HandshakeTrace();  // wipes the secrets

  // Installs the key-log and message callbacks on a server context (once, at context creation).
  static void install(SSL_CTX* ctx);
  // Connects `trace` to `ssl` (nullptr detaches; do so before the trace goes away).
  static void attach(SSL* ssl, HandshakeTrace* trace);
};

}  // namespace pimap::net
