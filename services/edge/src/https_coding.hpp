#pragma once
// HTTP content codings of the HTTPS binding (profile §9): gzip (RFC 1952) and deflate (the zlib
// format of RFC 1950, which is what HTTP's "deflate" means) for responses, and for request bodies.
//
// The encoder is a stream: in persistent chunked mode every chunk is sync-flushed so the client can
// decode each response as it arrives; finish() ends the stream (gzip trailer). It uses a small window
// (4 KiB, memLevel 5, about 15 KiB) like the COMPRESS=DEFLATE codec; any decoder accepts it.
// The decoder refuses to produce more than `max_out` bytes (a small gzip body may expand to
// gigabytes).

#include "https_request.hpp"

#include <zlib.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pimap::edge::https {

class Encoder {
 public:
  explicit Encoder(Coding coding);
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Appends the encoded form of `in` to `out`, sync-flushed. Identity copies.
  bool write(std::string_view in, std::string& out);
  // Appends the end of the stream.
  bool finish(std::string& out);

 private:
  bool run(std::string_view in, int flush, std::string& out);
  Coding coding_;
  z_stream s_{};
  bool ok_ = false;
};

// Decodes a whole request body; nullopt when it is corrupt, truncated or longer than max_out.
std::optional<std::string> decode_body(Coding coding, std::string_view body, std::size_t max_out);

// Stream decoder for persistent chunked mode (request bodies arrive chunk by chunk).
class Decoder {
 public:
  explicit Decoder(Coding coding);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  // Appends what `in` decodes to; false on corrupt input.
  bool write(std::string_view in, std::string& out);

 private:
  Coding coding_;
  z_stream s_{};
  bool ok_ = false;
};

}  // namespace pimap::edge::https
