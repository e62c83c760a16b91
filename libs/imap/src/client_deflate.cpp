#include "pimap/imap/client_deflate.hpp"

#include <zlib.h>

#include <new>

namespace pimap::imap {

namespace {

Bytef* bytes(const char* p) noexcept {
  // zlib's API is not const-correct for next_in; it never writes through it.
  return reinterpret_cast<Bytef*>(const_cast<char*>(p));
}

}  // namespace

struct DeflateWriter::State {
  z_stream z{};
  bool ok = false;
};

DeflateWriter::DeflateWriter(int level) : s_(std::make_unique<State>()) {
  s_->ok = deflateInit2(&s_->z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
}

DeflateWriter::~DeflateWriter() {
  if (s_->ok) deflateEnd(&s_->z);
}

bool DeflateWriter::write(std::string_view in, std::string& out) {
  if (!s_->ok) return false;
  z_stream& z = s_->z;
  z.next_in = bytes(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  for (;;) {
    const std::size_t before = out.size();
    const std::size_t room = deflateBound(&z, z.avail_in) + 64;
    out.resize(before + room);
    z.next_out = bytes(out.data() + before);
    z.avail_out = static_cast<uInt>(room);
    const int rc = deflate(&z, Z_SYNC_FLUSH);
    out.resize(before + room - z.avail_out);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
    if (z.avail_in == 0 && z.avail_out != 0) return true;
  }
}

struct InflateReader::State {
  z_stream z{};
  bool ok = false;
};

InflateReader::InflateReader() : s_(std::make_unique<State>()) {
  s_->ok = inflateInit2(&s_->z, -15) == Z_OK;
  failed_ = !s_->ok;
}

InflateReader::~InflateReader() {
  if (s_->ok) inflateEnd(&s_->z);
}

void InflateReader::set_input(std::string_view in) noexcept {
  s_->z.next_in = bytes(in.data());
  s_->z.avail_in = static_cast<uInt>(in.size());
}

bool InflateReader::has_input() const noexcept { return s_->z.avail_in > 0; }

std::size_t InflateReader::read(std::span<char> out) noexcept {
  if (failed_ || out.empty()) return 0;
  z_stream& z = s_->z;
  z.next_out = bytes(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_SYNC_FLUSH);
  const std::size_t produced = out.size() - z.avail_out;
  if (rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR)) failed_ = true;
  return produced;
}

}  // namespace pimap::imap
