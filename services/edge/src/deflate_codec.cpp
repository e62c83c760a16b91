#include "deflate_codec.hpp"

#include <array>

namespace pimap::edge {

namespace {
bool run_deflate(z_stream& s, std::string_view in, std::string& out) {
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  std::array<char, 16384> buf;
  do {
    s.next_out = reinterpret_cast<Bytef*>(buf.data());
    s.avail_out = static_cast<uInt>(buf.size());
    const int rc = ::deflate(&s, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
    out.append(buf.data(), buf.size() - s.avail_out);
  } while (s.avail_out == 0);
  return true;
}
}  // namespace

DeflateCodec::DeflateCodec() {
  ok_ = inflateInit2(&in_, -15) == Z_OK &&
        deflateInit2(&out_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 5, Z_DEFAULT_STRATEGY) == Z_OK;
}

DeflateCodec::~DeflateCodec() {
  inflateEnd(&in_);
  deflateEnd(&out_);
}

bool DeflateCodec::inflate(std::string_view in, std::string& out) {
  if (!ok_) return false;
  in_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  in_.avail_in = static_cast<uInt>(in.size());
  std::array<char, 16384> buf;
  while (in_.avail_in > 0) {
    in_.next_out = reinterpret_cast<Bytef*>(buf.data());
    in_.avail_out = static_cast<uInt>(buf.size());
    const int rc = ::inflate(&in_, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) return false;
    out.append(buf.data(), buf.size() - in_.avail_out);
    if (rc == Z_BUF_ERROR && in_.avail_out != 0) break;
  }
  return true;
}

bool DeflateCodec::deflate(std::string_view in, std::string& out) { return ok_ && run_deflate(out_, in, out); }

DeflateStream::DeflateStream() {
  ok_ = deflateInit2(&s_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
}
DeflateStream::~DeflateStream() { deflateEnd(&s_); }
bool DeflateStream::deflate(std::string_view in, std::string& out) { return ok_ && run_deflate(s_, in, out); }

}  // namespace pimap::edge
