#pragma once

// COMPRESS=DEFLATE (RFC 4978): raw deflate (no zlib header, window bits -15) in each direction,
// flushed with Z_SYNC_FLUSH after every write so the peer can act on each command at once.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace pimap::imap {

class DeflateWriter {
 public:
  explicit DeflateWriter(int level = 6);
  ~DeflateWriter();
  DeflateWriter(const DeflateWriter&) = delete;
  DeflateWriter& operator=(const DeflateWriter&) = delete;

  // Appends the compressed form of `in` (sync-flushed) to `out`. False on a zlib error.
  bool write(std::string_view in, std::string& out);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

class InflateReader {
 public:
  InflateReader();
  ~InflateReader();
  InflateReader(const InflateReader&) = delete;
  InflateReader& operator=(const InflateReader&) = delete;

  // Sets the next compressed input; it must stay valid until has_input() is false.
  void set_input(std::string_view in) noexcept;
  bool has_input() const noexcept;
  // Decompresses into `out`; returns bytes produced. Call again while it fills `out` completely or
  // has_input(). Sets failed() on corrupt input or when the peer ends the stream.
  std::size_t read(std::span<char> out) noexcept;
  bool failed() const noexcept { return failed_; }

 private:
  struct State;
  std::unique_ptr<State> s_;
  bool failed_ = false;
};

}  // namespace pimap::imap
