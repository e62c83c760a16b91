#pragma once

// Incremental reader of the server -> client IMAP stream: feed bytes in any split, take complete
// parsed responses out.
//
//   ResponseReader reader;
//   Response r;
//   auto buf = reader.prepare(65536);            // zero-copy: read the socket straight into buf
//   reader.commit(socket.read_some(buf));        // (or reader.feed(bytes) to copy)
//   while (true) {
//     auto st = reader.next(r);
//     if (st == ReadStatus::need_more) break;
//     if (st == ReadStatus::error) { log(reader.error().message()); continue; }   // skipped, in step
//     handle(r);
//   }
//
// Framing finds line ends with memchr and jumps over literal payloads by their announced length, so
// message bodies are never scanned byte by byte. A Response points into the reader's buffer: it stays
// valid until the next prepare(), commit() or feed(); next() itself never moves data.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "pimap/imap/response.hpp"
#include "pimap/imap/response_error.hpp"

namespace pimap::imap {

enum class ReadStatus : std::uint8_t {
  response,   // `out` holds the next response
  need_more,  // no complete response buffered
  error,      // one response was malformed or over a limit and has been skipped; see error() and
              // `out.raw` (the response, or empty if its bytes were discarded) and `out.tag` (the tag
              // it started with, if any: a client can fail the matching command)
};

class ResponseReader {
 public:
  explicit ResponseReader(ResponseLimits limits = {});
  ~ResponseReader();
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // A writable area of at least `n` bytes at the end of the buffered data. May move buffered bytes
  // (invalidating views handed out before).
  std::span<char> prepare(std::size_t n);
  // Marks `n` bytes of the area returned by prepare() as received.
  void commit(std::size_t n) noexcept;
  // prepare + copy + commit.
  void feed(std::string_view bytes);

  // Parses the next complete response into `out` (which is cleared first and reuses its capacity).
  // Never throws: an allocation failure is reported as an error like any other.
  ReadStatus next(Response& out) noexcept;

  // The error of the last next() that returned ReadStatus::error.
  const ResponseError& error() const noexcept { return error_; }

  // Bytes received but not yet returned as responses (e.g. data the server sent after `OK Begin
  // compression`, which belongs to the compressed stream). take_buffered() hands them over and
  // empties the reader.
  std::string_view buffered() const noexcept;
  std::string take_buffered();
  // Forgets all state (e.g. after STARTTLS, where nothing buffered may be trusted).
  void reset() noexcept;

  // Absolute number of bytes consumed so far (as responses or skipped).
  std::uint64_t consumed_bytes() const noexcept { return consumed_total_; }
  const ResponseLimits& limits() const noexcept { return limits_; }

 private:
  enum class Mode : std::uint8_t { text, literal, discard_text, discard_literal };

  // Advances the framer over buffered bytes; true when a whole response (or a discarded one) ends.
  bool frame() noexcept;
  void start_discard(ResponseErrc why, std::size_t offset) noexcept;
  // In text mode, with the current line holding bytes up to `line_end` (its LF excluded) and the
  // buffer up to `data_end`: when a line or response limit is crossed, starts discarding the
  // response under the limit crossed first and returns true.
  bool discard_if_over(std::size_t line_end, std::size_t data_end) noexcept;
  void drop_to(std::size_t pos) noexcept;

  ResponseLimits limits_;
  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;  // start of the current (unreturned) response
  std::size_t scan_ = 0;   // framer position
  std::size_t end_ = 0;    // end of buffered data
  std::size_t line_start_ = 0;  // start of the current text segment (for max_line_bytes)
  std::uint64_t literal_left_ = 0;
  Mode mode_ = Mode::text;
  ResponseErrc discard_reason_ = ResponseErrc::ok;
  std::uint64_t discard_offset_ = 0;
  // Last bytes of a discarded line, to recognise a literal header at its end.
  char tail_[32] = {};
  std::size_t tail_len_ = 0;
  char tag_[64] = {};
  std::size_t tag_len_ = 0;
  bool response_ready_ = false;
  bool raw_kept_ = false;  // a failed response whose bytes are still buffered
  std::uint64_t consumed_total_ = 0;
  ResponseError error_;
};

// Parses exactly one complete response (as framed by ResponseReader, CRLF included). For tests, fuzzing
// and OwnedResponse. `out` is cleared first.
ResponseError parse_response(std::string_view raw, Response& out, const ResponseLimits& limits = {});

}  // namespace pimap::imap
