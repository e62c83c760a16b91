#include "https_coding.hpp"

#include <gtest/gtest.h>

#include <zlib.h>

using namespace pimap::edge::https;

namespace {
// Decodes with zlib's own auto-detection, as an HTTP client would.
std::string inflate_all(std::string_view in) {
  z_stream s{};
  EXPECT_EQ(inflateInit2(&s, 15 + 32), Z_OK);
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  std::string out(1 << 16, '\0');
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  inflate(&s, Z_SYNC_FLUSH);
  out.resize(out.size() - s.avail_out);
  inflateEnd(&s);
  return out;
}
}  // namespace

TEST(HttpsCoding, GzipAndDeflateRoundTrip) {
  for (Coding c : {Coding::gzip, Coding::deflate}) {
    Encoder e(c);
    std::string z;
    ASSERT_TRUE(e.write("* 1 EXISTS\r\n", z));
    // Sync-flushed: what was written so far decodes before the stream ends (chunked mode).
    EXPECT_EQ(inflate_all(z), "* 1 EXISTS\r\n");
    ASSERT_TRUE(e.write("a1 OK done\r\n", z));
    ASSERT_TRUE(e.finish(z));
    EXPECT_EQ(decode_body(c, z, 1000), "* 1 EXISTS\r\na1 OK done\r\n");
  }
}

TEST(HttpsCoding, DecodeRefusesCorruptTruncatedAndOversized) {
  Encoder e(Coding::gzip);
  std::string z;
  ASSERT_TRUE(e.write(std::string(5000, 'a'), z));
  ASSERT_TRUE(e.finish(z));
  EXPECT_TRUE(decode_body(Coding::gzip, z, 5000));
  EXPECT_FALSE(decode_body(Coding::gzip, z, 4999));  // expands past the batch limit
  EXPECT_FALSE(decode_body(Coding::gzip, z.substr(0, z.size() - 4), 5000));
  EXPECT_FALSE(decode_body(Coding::gzip, "not gzip at all", 5000));
  EXPECT_EQ(decode_body(Coding::identity, "abc", 3), "abc");
  EXPECT_FALSE(decode_body(Coding::identity, "abcd", 3));
}

TEST(HttpsCoding, StreamDecoderTakesChunksAsTheyCome) {
  Encoder e(Coding::deflate);
  std::string z;
  ASSERT_TRUE(e.write("a1 NOOP\r\n", z));
  Decoder d(Coding::deflate);
  std::string plain;
  ASSERT_TRUE(d.write(z.substr(0, 3), plain));
  ASSERT_TRUE(d.write(z.substr(3), plain));
  EXPECT_EQ(plain, "a1 NOOP\r\n");
  Decoder bad(Coding::gzip);
  EXPECT_FALSE(bad.write("garbage!", plain));
}
