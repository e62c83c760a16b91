#include "https_coding.hpp"

#include <array>

namespace pimap::edge::https {

namespace {
// zlib windowBits: 15 + 16 selects the gzip wrapper, plain 15 the zlib wrapper; decoding with
// 15 + 32 accepts either, which tolerates clients that send raw zlib as "gzip" or vice versa.
constexpr int kEncodeWindow = 12;  // 4 KiB
int encode_bits(Coding c) { return c == Coding::gzip ? kEncodeWindow + 16 : kEncodeWindow; }
}  // namespace

Encoder::Encoder(Coding coding) : coding_(coding) {
  if (coding_ == Coding::identity) {
    ok_ = true;
    return;
  }
  ok_ = deflateInit2(&s_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, encode_bits(coding_), 5, Z_DEFAULT_STRATEGY) == Z_OK;
}

Encoder::~Encoder() {
  if (coding_ != Coding::identity && ok_) deflateEnd(&s_);
}

bool Encoder::run(std::string_view in, int flush, std::string& out) {
  if (!ok_) return false;
  s_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s_.avail_in = static_cast<uInt>(in.size());
  std::array<char, 8192> buf;
  for (;;) {
    s_.next_out = reinterpret_cast<Bytef*>(buf.data());
    s_.avail_out = static_cast<uInt>(buf.size());
    const int rc = deflate(&s_, flush);
    if (rc == Z_STREAM_ERROR) return ok_ = false;
    out.append(buf.data(), buf.size() - s_.avail_out);
    if (flush == Z_FINISH ? rc == Z_STREAM_END : (s_.avail_out != 0 && s_.avail_in == 0)) return true;
  }
}

bool Encoder::write(std::string_view in, std::string& out) {
  if (coding_ == Coding::identity) {
    out.append(in);
    return true;
  }
  return run(in, Z_SYNC_FLUSH, out);
}

bool Encoder::finish(std::string& out) {
  if (coding_ == Coding::identity) return true;
  return run({}, Z_FINISH, out);
}

Decoder::Decoder(Coding coding) : coding_(coding) {
  if (coding_ == Coding::identity) {
    ok_ = true;
    return;
  }
  ok_ = inflateInit2(&s_, 15 + 32) == Z_OK;
}

Decoder::~Decoder() {
  if (coding_ != Coding::identity && ok_) inflateEnd(&s_);
}

bool Decoder::write(std::string_view in, std::string& out) {
  if (coding_ == Coding::identity) {
    out.append(in);
    return true;
  }
  if (!ok_) return false;
  s_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s_.avail_in = static_cast<uInt>(in.size());
  std::array<char, 8192> buf;
  while (s_.avail_in > 0) {
    s_.next_out = reinterpret_cast<Bytef*>(buf.data());
    s_.avail_out = static_cast<uInt>(buf.size());
    const int rc = inflate(&s_, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - s_.avail_out);
    if (rc == Z_STREAM_END) return s_.avail_in == 0;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return ok_ = false;
    if (rc == Z_BUF_ERROR && s_.avail_out != 0) return ok_ = false;
  }
  return true;
}

std::optional<std::string> decode_body(Coding coding, std::string_view body, std::size_t max_out) {
  if (coding == Coding::identity) {
    if (body.size() > max_out) return std::nullopt;
    return std::string(body);
  }
  z_stream s{};
  if (inflateInit2(&s, 15 + 32) != Z_OK) return std::nullopt;
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  s.avail_in = static_cast<uInt>(body.size());
  std::string out;
  std::array<char, 8192> buf;
  int rc = Z_OK;
  while (rc == Z_OK) {
    s.next_out = reinterpret_cast<Bytef*>(buf.data());
    s.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&s, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - s.avail_out);
    if (out.size() > max_out) break;
    if (rc == Z_BUF_ERROR && s.avail_in == 0) break;  // truncated
  }
  inflateEnd(&s);
  if (rc != Z_STREAM_END || out.size() > max_out) return std::nullopt;
  return out;
}

}  // namespace pimap::edge::https
