#pragma once
// TLS record protection without an SSL object, for the server side of a connection whose
// handshake OpenSSL has completed. Keeps only what the rest of the connection needs: per
// direction the traffic secret (TLS 1.3 KeyUpdate), AEAD key, IV and sequence number.
//
// Covers exactly what may follow a server handshake with the AEAD suites TlsContext offers:
//   TLS 1.3: application data, alerts, KeyUpdate (answered when requested); any other
//            post-handshake message is refused.
//   TLS 1.2: application data and alerts; renegotiation is refused (handshake_failure).
// Cryptography is OpenSSL's EVP AEAD (AES-GCM, ChaCha20-Poly1305) through one cipher context per
// thread, initialised per record, so nothing cryptographic is allocated per connection.

#include <pimap/net/error.hpp>

#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace pimap::net {

struct HandshakeTrace;

class RecordLayer {
 public:
  static constexpr std::size_t kMaxPlaintext = 16384;
  static constexpr std::size_t kHeader = 5;
  // The largest record a peer may send: TLS 1.2 allows 2^14 + 2048 bytes of ciphertext.
  static constexpr std::size_t kMaxRecord = kHeader + kMaxPlaintext + 2048;

  // Takes over the keys of the finished server handshake on `ssl`. nullptr when it cannot (not a
  // server, not an AEAD suite we implement, or sequence numbers not where they must be); the
  // caller then keeps using OpenSSL.
  static std::unique_ptr<RecordLayer> adopt(SSL* ssl, const HandshakeTrace& trace);

  ~RecordLayer();
  RecordLayer(const RecordLayer&) = delete;
  RecordLayer& operator=(const RecordLayer&) = delete;

  enum ContentType : unsigned char { alert = 21, handshake = 22, application_data = 23 };

  // Appends records carrying `data` (split at kMaxPlaintext) to `out`.
  void seal(ContentType type, std::span<const char> data, std::string& out);
  void seal_close_notify(std::string& out);

  struct Opened {
    std::size_t consumed = 0;   // ciphertext bytes used from the input (whole records only)
    std::size_t produced = 0;   // application bytes written to `out`
    bool close_notify = false;  // the peer closed its side; input after it was not read
    boost::system::error_code error;  // fatal; a matching alert was appended to `replies`
  };
  // Opens the complete records at the front of `in`, decrypting in place, and appends their
  // application data to out[0, out_capacity). Stops at an incomplete record, before a record
  // whose plaintext might not fit, after close_notify, or at the first error. Records the peer
  // asks us to send in return (KeyUpdate, alerts) are appended to `replies`.
  Opened open(std::span<char> in, char* out, std::size_t out_capacity, std::string& replies);

 private:
  enum class Aead : std::uint8_t { aes128gcm, aes256gcm, chacha20poly1305 };
  struct Direction {
    std::array<unsigned char, 48> secret{};  // TLS 1.3 only
    std::array<unsigned char, 32> key{};
    std::array<unsigned char, 12> iv{};      // TLS 1.2 GCM uses the first 4 bytes (salt)
    std::uint64_t seq = 0;
  };
  RecordLayer() = default;

  void nonce(const Direction& d, std::uint64_t explicit_nonce, unsigned char out[12]) const;
  bool next_traffic_secret(Direction& d);  // TLS 1.3 KeyUpdate
  bool derive_tls13_keys(Direction& d);
  void fatal(Opened& result, unsigned char alert_description, std::string& replies);

  Direction read_;
  Direction write_;
  Aead aead_ = Aead::aes128gcm;
  bool tls13_ = true;
  std::uint8_t key_len_ = 16;
  std::uint8_t hash_len_ = 32;  // TLS 1.3 secret length: SHA-256 or SHA-384
};

}  // namespace pimap::net
