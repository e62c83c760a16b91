#pragma once
// RFC 4978 COMPRESS=DEFLATE for one connection: raw DEFLATE (RFC 1951) both ways, a sync flush after
// every write batch so the peer can always decode what it has received.
//
// Memory is the reason for the parameters: the outgoing compressor uses a 4 KiB window and memLevel 5
// (about 15 KiB instead of zlib's default 256 KiB); any peer's inflater accepts a smaller window. The
// incoming inflater must accept whatever window the peer chose (up to 32 KiB).

#include <zlib.h>

#include <memory>
#include <string>
#include <string_view>

namespace pimap::edge {

class DeflateCodec {
 public:
  DeflateCodec();
  ~DeflateCodec();
  DeflateCodec(const DeflateCodec&) = delete;
  DeflateCodec& operator=(const DeflateCodec&) = delete;

  bool ok() const { return ok_; }
  // Appends the inflated form of `in` to `out`; false on corrupt input (the connection must end).
  bool inflate(std::string_view in, std::string& out);
  // Appends the deflated form of `in`, sync-flushed, to `out`.
  bool deflate(std::string_view in, std::string& out);

 private:
  z_stream in_{};
  z_stream out_{};
  bool ok_ = false;
};

// One-shot raw DEFLATE with a sync flush per call, for XZIP blocks (profile §9): a stream object that
// lives for one XZIP command.
class DeflateStream {
 public:
  DeflateStream();
  ~DeflateStream();
  DeflateStream(const DeflateStream&) = delete;
  DeflateStream& operator=(const DeflateStream&) = delete;
  bool deflate(std::string_view in, std::string& out);

 private:
  z_stream s_{};
  bool ok_ = false;
};

}  // namespace pimap::edge
