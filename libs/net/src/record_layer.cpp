#include "record_layer.hpp"

#include "handshake_trace.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstring>
#include <string_view>

namespace pimap::net {
namespace {

constexpr std::size_t kTag = 16;

enum Alert : unsigned char {
  close_notify = 0,
  unexpected_message = 10,
  bad_record_mac = 20,
  record_overflow = 22,
  handshake_failure = 40,
  illegal_parameter = 47,
  decode_error = 50,
  internal_error = 80,
  user_canceled = 90,
};

unsigned char* u8(char* p) { return reinterpret_cast<unsigned char*>(p); }

void put_be64(unsigned char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
}

// The one AEAD context of this thread; EVP_CipherInit_ex2 re-keys it for every record.
EVP_CIPHER_CTX* thread_cipher_ctx() {
  struct Holder {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    ~Holder() { EVP_CIPHER_CTX_free(ctx); }
  };
  thread_local Holder holder;
  return holder.ctx;
}

bool aead(const EVP_CIPHER* cipher, bool encrypt, const unsigned char* key,
          const unsigned char nonce[12], const unsigned char* aad, std::size_t aad_len,
          unsigned char* data, std::size_t len, unsigned char* tag) {
  EVP_CIPHER_CTX* c = thread_cipher_ctx();
  if (c == nullptr || EVP_CipherInit_ex2(c, cipher, key, nonce, encrypt ? 1 : 0, nullptr) != 1)
    return false;
  int out_len = 0;
  if (EVP_CipherUpdate(c, nullptr, &out_len, aad, static_cast<int>(aad_len)) != 1) return false;
  if (len > 0 && EVP_CipherUpdate(c, data, &out_len, data, static_cast<int>(len)) != 1)
    return false;
  if (!encrypt && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, kTag, tag) != 1) return false;
  unsigned char none[32];
  if (EVP_CipherFinal_ex(c, none, &out_len) != 1) return false;
  return !encrypt || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, kTag, tag) == 1;
}

const char* digest_name(std::size_t hash_len) { return hash_len == 48 ? "SHA384" : "SHA256"; }

// RFC 8446 7.1 HKDF-Expand-Label with an empty context.
bool hkdf_expand_label(std::size_t hash_len, const unsigned char* secret, std::string_view label,
                       unsigned char* out, std::size_t out_len) {
  unsigned char info[2 + 1 + 255 + 1];
  std::size_t n = 0;
  info[n++] = static_cast<unsigned char>(out_len >> 8);
  info[n++] = static_cast<unsigned char>(out_len & 0xff);
  info[n++] = static_cast<unsigned char>(6 + label.size());
  std::memcpy(info + n, "tls13 ", 6);
  n += 6;
  std::memcpy(info + n, label.data(), label.size());
  n += label.size();
  info[n++] = 0;

  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(digest_name(hash_len)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(secret),
                                        hash_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
      OSSL_PARAM_construct_end()};
  bool ok = ctx != nullptr && EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok;
}

// RFC 5246 6.3 key_block = PRF(master_secret, "key expansion", server_random + client_random).
bool tls12_key_block(const char* digest, const unsigned char* master, std::size_t master_len,
                     const unsigned char* seed, std::size_t seed_len, unsigned char* out,
                     std::size_t out_len) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "TLS1-PRF", nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, const_cast<unsigned char*>(master),
                                        master_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, const_cast<unsigned char*>(seed),
                                        seed_len),
      OSSL_PARAM_construct_end()};
  bool ok = ctx != nullptr && EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok;
}

}  // namespace

namespace {
const EVP_CIPHER* fetch_cipher(int which) {
  static EVP_CIPHER* const ciphers[3] = {EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr),
                                         EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr),
                                         EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr)};
  return ciphers[which];
}
}  // namespace

RecordLayer::~RecordLayer() {
  OPENSSL_cleanse(&read_, sizeof read_);
  OPENSSL_cleanse(&write_, sizeof write_);
}

std::unique_ptr<RecordLayer> RecordLayer::adopt(SSL* ssl, const HandshakeTrace& trace) {
  if (!SSL_is_server(ssl)) return nullptr;
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  if (cipher == nullptr) return nullptr;
  std::unique_ptr<RecordLayer> rl(new RecordLayer);
  switch (SSL_CIPHER_get_cipher_nid(cipher)) {
    case NID_aes_128_gcm: rl->aead_ = Aead::aes128gcm; rl->key_len_ = 16; break;
    case NID_aes_256_gcm: rl->aead_ = Aead::aes256gcm; rl->key_len_ = 32; break;
    case NID_chacha20_poly1305: rl->aead_ = Aead::chacha20poly1305; rl->key_len_ = 32; break;
    default: return nullptr;
  }
  if (fetch_cipher(static_cast<int>(rl->aead_)) == nullptr) return nullptr;
  const EVP_MD* md = SSL_CIPHER_get_handshake_digest(cipher);
  const int hash_len = md ? EVP_MD_get_size(md) : 0;
  if (hash_len != 32 && hash_len != 48) return nullptr;
  rl->hash_len_ = static_cast<std::uint8_t>(hash_len);

  const int version = SSL_version(ssl);
  if (version == TLS1_3_VERSION) {
    rl->tls13_ = true;
    if (trace.client_secret_len != rl->hash_len_ || trace.server_secret_len != rl->hash_len_)
      return nullptr;
    // The client's Finished was the last record read; OpenSSL reads no further than it needs.
    if (trace.read_records != 0) return nullptr;
    std::memcpy(rl->read_.secret.data(), trace.client_secret.data(), rl->hash_len_);
    std::memcpy(rl->write_.secret.data(), trace.server_secret.data(), rl->hash_len_);
    if (!rl->derive_tls13_keys(rl->read_) || !rl->derive_tls13_keys(rl->write_)) return nullptr;
    rl->read_.seq = 0;
    rl->write_.seq = trace.write_records;  // the session tickets sent after the handshake
    return rl;
  }
  if (version != TLS1_2_VERSION) return nullptr;
  rl->tls13_ = false;
  // Each side has protected exactly its Finished under the new keys.
  if (trace.read_records != 1 || trace.write_records != 1) return nullptr;
  unsigned char master[48];
  if (SSL_SESSION_get_master_key(SSL_get_session(ssl), master, sizeof master) != sizeof master)
    return nullptr;
  unsigned char seed[13 + 64];
  std::memcpy(seed, "key expansion", 13);
  SSL_get_server_random(ssl, seed + 13, 32);
  SSL_get_client_random(ssl, seed + 45, 32);
  const std::size_t k = rl->key_len_;
  const std::size_t f = rl->aead_ == Aead::chacha20poly1305 ? 12 : 4;
  unsigned char block[2 * 32 + 2 * 12];
  const bool ok = tls12_key_block(EVP_MD_get0_name(md), master, sizeof master, seed, sizeof seed,
                                  block, 2 * k + 2 * f);
  OPENSSL_cleanse(master, sizeof master);
  if (!ok) return nullptr;
  std::memcpy(rl->read_.key.data(), block, k);           // client_write_key
  std::memcpy(rl->write_.key.data(), block + k, k);      // server_write_key
  std::memcpy(rl->read_.iv.data(), block + 2 * k, f);    // client_write_IV
  std::memcpy(rl->write_.iv.data(), block + 2 * k + f, f);
  OPENSSL_cleanse(block, sizeof block);
  rl->read_.seq = 1;
  rl->write_.seq = 1;
  return rl;
}

bool RecordLayer::derive_tls13_keys(Direction& d) {
  return hkdf_expand_label(hash_len_, d.secret.data(), "key", d.key.data(), key_len_) &&
         hkdf_expand_label(hash_len_, d.secret.data(), "iv", d.iv.data(), 12);
}

bool RecordLayer::next_traffic_secret(Direction& d) {
  unsigned char next[48];
  if (!hkdf_expand_label(hash_len_, d.secret.data(), "traffic upd", next, hash_len_)) return false;
  std::memcpy(d.secret.data(), next, hash_len_);
  OPENSSL_cleanse(next, sizeof next);
  d.seq = 0;
  return derive_tls13_keys(d);
}

void RecordLayer::nonce(const Direction& d, std::uint64_t explicit_nonce,
                        unsigned char out[12]) const {
  if (!tls13_ && aead_ != Aead::chacha20poly1305) {  // TLS 1.2 GCM: salt || explicit nonce
    std::memcpy(out, d.iv.data(), 4);
    put_be64(out + 4, explicit_nonce);
    return;
  }
  unsigned char seq[8];
  put_be64(seq, d.seq);
  std::memcpy(out, d.iv.data(), 12);
  for (int i = 0; i < 8; ++i) out[4 + i] ^= seq[i];
}

void RecordLayer::seal(ContentType type, std::span<const char> data, std::string& out) {
  const EVP_CIPHER* cipher = fetch_cipher(static_cast<int>(aead_));
  const bool explicit_nonce = !tls13_ && aead_ != Aead::chacha20poly1305;
  do {
    const std::size_t n = std::min(data.size(), kMaxPlaintext);
    const std::size_t body = tls13_ ? n + 1 + kTag : (explicit_nonce ? 8 : 0) + n + kTag;
    const std::size_t start = out.size();
    out.resize(start + kHeader + body);
    unsigned char* p = u8(out.data()) + start;
    p[0] = tls13_ ? application_data : type;
    p[1] = 3;
    p[2] = 3;
    p[3] = static_cast<unsigned char>(body >> 8);
    p[4] = static_cast<unsigned char>(body & 0xff);
    unsigned char iv[12];
    nonce(write_, write_.seq, iv);
    bool ok;
    if (tls13_) {
      std::memcpy(p + kHeader, data.data(), n);
      p[kHeader + n] = type;
      ok = aead(cipher, true, write_.key.data(), iv, p, kHeader, p + kHeader, n + 1,
                p + kHeader + n + 1);
    } else {
      unsigned char aad[13];
      put_be64(aad, write_.seq);
      aad[8] = type;
      aad[9] = 3;
      aad[10] = 3;
      aad[11] = static_cast<unsigned char>(n >> 8);
      aad[12] = static_cast<unsigned char>(n & 0xff);
      unsigned char* payload = p + kHeader;
      if (explicit_nonce) {
        put_be64(payload, write_.seq);
        payload += 8;
      }
      std::memcpy(payload, data.data(), n);
      ok = aead(cipher, true, write_.key.data(), iv, aad, sizeof aad, payload, n, payload + n);
    }
    // Sealing can only fail if OpenSSL itself is broken; send nothing rather than garbage.
    if (!ok) {
      out.resize(start);
      return;
    }
    ++write_.seq;
    data = data.subspan(n);
  } while (!data.empty());
}

void RecordLayer::seal_close_notify(std::string& out) {
  const char body[2] = {1, static_cast<char>(close_notify)};
  seal(alert, body, out);
}

void RecordLayer::fatal(Opened& result, unsigned char description, std::string& replies) {
  const char body[2] = {2, static_cast<char>(description)};
  seal(alert, body, replies);
  result.error = make_error_code(errc::tls_protocol);
}

RecordLayer::Opened RecordLayer::open(std::span<char> in, char* out, std::size_t out_capacity,
                                      std::string& replies) {
  Opened r;
  const EVP_CIPHER* cipher = fetch_cipher(static_cast<int>(aead_));
  const bool explicit_nonce = !tls13_ && aead_ != Aead::chacha20poly1305;
  const std::size_t max_body = kMaxPlaintext + (tls13_ ? 256 : 2048);
  const std::size_t overhead = tls13_ ? kTag + 1 : (explicit_nonce ? 8 : 0) + kTag;
  std::size_t pos = 0;
  while (in.size() - pos >= kHeader) {
    unsigned char* p = u8(in.data()) + pos;
    const unsigned char outer_type = p[0];
    const std::size_t len = (std::size_t{p[3]} << 8) | p[4];
    if (p[1] != 3) return fatal(r, decode_error, replies), r;
    if (len > max_body) return fatal(r, record_overflow, replies), r;
    if (in.size() - pos < kHeader + len) break;
    if (len < overhead) return fatal(r, decode_error, replies), r;
    if (r.produced + (len - overhead) > out_capacity) break;  // no room; caller comes back

    unsigned char* body = p + kHeader;
    unsigned char iv[12];
    unsigned char type;
    unsigned char* plain;
    std::size_t n;
    if (tls13_) {
      if (outer_type != application_data) return fatal(r, unexpected_message, replies), r;
      n = len - kTag;
      nonce(read_, 0, iv);
      if (!aead(cipher, false, read_.key.data(), iv, p, kHeader, body, n, body + n))
        return fatal(r, bad_record_mac, replies), r;
      while (n > 0 && body[n - 1] == 0) --n;  // strip padding; the last non-zero byte is the type
      if (n == 0) return fatal(r, unexpected_message, replies), r;
      type = body[--n];
      plain = body;
    } else {
      if (outer_type < alert || outer_type > application_data)
        return fatal(r, unexpected_message, replies), r;
      type = outer_type;
      std::uint64_t explicit_value = 0;
      plain = body;
      if (explicit_nonce) {
        for (int i = 0; i < 8; ++i) explicit_value = (explicit_value << 8) | body[i];
        plain = body + 8;
      }
      n = len - overhead;
      unsigned char aad[13];
      put_be64(aad, read_.seq);
      aad[8] = type;
      aad[9] = p[1];
      aad[10] = p[2];
      aad[11] = static_cast<unsigned char>(n >> 8);
      aad[12] = static_cast<unsigned char>(n & 0xff);
      nonce(read_, explicit_value, iv);
      if (!aead(cipher, false, read_.key.data(), iv, aad, sizeof aad, plain, n, plain + n))
        return fatal(r, bad_record_mac, replies), r;
    }
    if (n > kMaxPlaintext) return fatal(r, record_overflow, replies), r;
    ++read_.seq;
    pos += kHeader + len;
    r.consumed = pos;

    switch (type) {
      case application_data:
        std::memcpy(out + r.produced, plain, n);
        r.produced += n;
        break;
      case alert:
        if (n != 2) return fatal(r, decode_error, replies), r;
        if (plain[1] == close_notify) {
          r.close_notify = true;
          return r;
        }
        if ((tls13_ && plain[1] == user_canceled) || (!tls13_ && plain[0] == 1)) break;
        r.error = make_error_code(errc::tls_protocol);  // the peer's fatal alert: no answer
        return r;
      case handshake: {
        if (!tls13_) return fatal(r, handshake_failure, replies), r;  // renegotiation
        std::size_t off = 0;
        while (off < n) {
          if (n - off < 4) return fatal(r, unexpected_message, replies), r;
          const std::size_t mlen = (std::size_t{plain[off + 1]} << 16) |
                                   (std::size_t{plain[off + 2]} << 8) | plain[off + 3];
          constexpr unsigned char kKeyUpdate = 24;
          // A KeyUpdate changes the keys of the next record, so it must end this one.
          if (plain[off] != kKeyUpdate || mlen != 1 || off + 5 != n)
            return fatal(r, unexpected_message, replies), r;
          const unsigned char requested = plain[off + 4];
          if (requested > 1) return fatal(r, illegal_parameter, replies), r;
          if (!next_traffic_secret(read_)) return fatal(r, internal_error, replies), r;
          if (requested == 1) {
            const char update[5] = {static_cast<char>(kKeyUpdate), 0, 0, 1, 0};
            seal(handshake, update, replies);
            if (!next_traffic_secret(write_)) return fatal(r, internal_error, replies), r;
          }
          off += 5;
        }
        break;
      }
      default:
        return fatal(r, unexpected_message, replies), r;
    }
  }
  return r;
}

}  // namespace pimap::net
