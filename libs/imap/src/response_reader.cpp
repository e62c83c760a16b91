#include "pimap/imap/response_reader.hpp"

#include <algorithm>
#include <cstring>

namespace pimap::imap {

namespace {

struct LiteralMark {
  bool found = false;
  bool bad = false;
  std::uint64_t n = 0;
};

// Looks for `{n}` / `{n+}` / `~{n}` right before the LF at `lf` (optionally preceded by CR), never
// looking below `lo`.
LiteralMark literal_before(const char* lo, const char* lf) noexcept {
  LiteralMark m;
  const char* p = lf;
  if (p > lo && p[-1] == '\r') --p;
  if (p == lo || p[-1] != '}') return m;
  --p;
  if (p > lo && p[-1] == '+') --p;
  const char* digits_end = p;
  while (p > lo && p[-1] >= '0' && p[-1] <= '9') --p;
  if (p == digits_end || p == lo || p[-1] != '{') return m;
  m.found = true;
  if (digits_end - p > 19) {
    m.bad = true;
    return m;
  }
  for (const char* d = p; d < digits_end; ++d) m.n = m.n * 10 + static_cast<std::uint64_t>(*d - '0');
  return m;
}

std::string_view leading_tag(std::string_view raw) noexcept {
  const std::size_t sp = raw.find_first_of(" \r\n");
  std::string_view t = raw.substr(0, sp == std::string_view::npos ? raw.size() : sp);
  if (t.empty() || t == "*" || t == "+" || t.size() > 64) return {};
  return t;
}

}  // namespace

ResponseReader::ResponseReader(ResponseLimits limits) : limits_(limits) {}
ResponseReader::~ResponseReader() = default;

std::span<char> ResponseReader::prepare(std::size_t n) {
  if (n == 0) n = 1;
  // After one huge response, give the memory back once nothing is buffered.
  constexpr std::size_t kShrinkAbove = 4 * 1024 * 1024;
  constexpr std::size_t kSmall = 64 * 1024;
  if (begin_ == end_ && cap_ > kShrinkAbove && n <= kSmall) {
    buf_.reset(new char[kSmall]);
    cap_ = kSmall;
    begin_ = scan_ = end_ = line_start_ = 0;
  }
  if (cap_ - end_ < n) {
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      scan_ -= begin_;
      line_start_ = line_start_ > begin_ ? line_start_ - begin_ : 0;
      end_ -= begin_;
      begin_ = 0;
    }
    if (cap_ - end_ < n) {
      const std::size_t want = std::max({cap_ * 2, end_ + n, std::size_t{16384}});
      std::unique_ptr<char[]> nb(new char[want]);
      if (end_ > 0) std::memcpy(nb.get(), buf_.get(), end_);
      buf_ = std::move(nb);
      cap_ = want;
    }
  }
  return {buf_.get() + end_, cap_ - end_};
}

void ResponseReader::commit(std::size_t n) noexcept { end_ += std::min(n, cap_ - end_); }

void ResponseReader::feed(std::string_view bytes) {
  if (bytes.empty()) return;
  auto area = prepare(bytes.size());
  std::memcpy(area.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

std::string_view ResponseReader::buffered() const noexcept {
  if (!buf_) return {};
  return {buf_.get() + begin_, end_ - begin_};
}

std::string ResponseReader::take_buffered() {
  std::string s(buffered());
  reset();
  return s;
}

void ResponseReader::reset() noexcept {
  begin_ = scan_ = end_ = line_start_ = 0;
  literal_left_ = 0;
  mode_ = Mode::text;
  discard_reason_ = ResponseErrc::ok;
  tail_len_ = 0;
  tag_len_ = 0;
  response_ready_ = false;
  raw_kept_ = false;
}

void ResponseReader::drop_to(std::size_t pos) noexcept {
  consumed_total_ += pos - begin_;
  begin_ = pos;
}

void ResponseReader::start_discard(ResponseErrc why, std::size_t offset) noexcept {
  // Keep the tag: the client fails the command it belongs to.
  const std::size_t avail = std::min<std::size_t>(end_ - begin_, sizeof(tag_));
  const std::string_view t = leading_tag({buf_.get() + begin_, avail});
  tag_len_ = t.size() < avail || avail < sizeof(tag_) ? t.size() : 0;
  if (tag_len_ > 0) std::memcpy(tag_, t.data(), tag_len_);
  discard_reason_ = why;
  discard_offset_ = offset;
  raw_kept_ = false;
  tail_len_ = 0;
}

bool ResponseReader::discard_if_over(std::size_t line_end, std::size_t data_end) noexcept {
  // Byte line_start_ + max_line_bytes is the first the line may not have, byte begin_ +
  // max_response_bytes the first the response may not have. One long line can cross both; the one
  // crossed first names the error, and a response limit crossed before a line's end wins over what
  // the line's end says (a literal header), so the verdict does not depend on how the stream was
  // split into reads (a read ending in between would otherwise decide).
  const std::size_t line_limit = line_start_ + limits_.max_line_bytes;
  const std::size_t response_limit = begin_ + limits_.max_response_bytes;
  const bool line_over = line_end > line_limit;
  const bool response_over = data_end > response_limit;
  if (!line_over && !response_over) return false;
  if (response_over && (!line_over || response_limit < line_limit))
    start_discard(ResponseErrc::response_too_large, limits_.max_response_bytes);
  else
    start_discard(ResponseErrc::line_too_long, line_start_ - begin_ + limits_.max_line_bytes);
  scan_ = line_start_;
  drop_to(scan_);
  mode_ = Mode::discard_text;
  return true;
}

bool ResponseReader::frame() noexcept {
  char* const b = buf_.get();
  for (;;) {
    switch (mode_) {
      case Mode::literal: {
        const std::uint64_t take = std::min<std::uint64_t>(end_ - scan_, literal_left_);
        scan_ += static_cast<std::size_t>(take);
        literal_left_ -= take;
        if (literal_left_ > 0) return false;
        mode_ = Mode::text;
        line_start_ = scan_;
        break;
      }

      case Mode::text: {
        const void* nl = scan_ < end_ ? std::memchr(b + scan_, '\n', end_ - scan_) : nullptr;
        if (!nl) {
          if (discard_if_over(end_, end_)) break;
          scan_ = end_;
          return false;
        }
        const auto lf = static_cast<std::size_t>(static_cast<const char*>(nl) - b);
        if (discard_if_over(lf, lf + 1)) break;
        const LiteralMark lit = literal_before(b + line_start_, b + lf);
        scan_ = lf + 1;
        if (lit.found && lit.bad) {
          // The length cannot be honoured: end the response here; what follows resynchronises at
          // the next line.
          start_discard(ResponseErrc::bad_literal, lf - begin_);
          raw_kept_ = true;
          response_ready_ = true;
          return true;
        }
        if (lit.found) {
          if (lit.n > limits_.max_literal_bytes) {
            start_discard(ResponseErrc::literal_too_large, lf - begin_);
            drop_to(scan_);
            literal_left_ = lit.n;
            mode_ = Mode::discard_literal;
            break;
          }
          if (scan_ - begin_ + lit.n > limits_.max_response_bytes) {
            start_discard(ResponseErrc::response_too_large, lf - begin_);
            drop_to(scan_);
            literal_left_ = lit.n;
            mode_ = Mode::discard_literal;
            break;
          }
          literal_left_ = lit.n;
          mode_ = Mode::literal;
          break;
        }
        response_ready_ = true;
        return true;
      }

      case Mode::discard_text: {
        const void* nl = scan_ < end_ ? std::memchr(b + scan_, '\n', end_ - scan_) : nullptr;
        if (!nl) {
          // Remember the last bytes: a literal header may straddle the next read.
          const std::size_t n = end_ - scan_;
          if (n >= sizeof(tail_)) {
            std::memcpy(tail_, b + end_ - sizeof(tail_), sizeof(tail_));
            tail_len_ = sizeof(tail_);
          } else {
            const std::size_t keep = std::min(tail_len_, sizeof(tail_) - n);
            std::memmove(tail_, tail_ + tail_len_ - keep, keep);
            std::memcpy(tail_ + keep, b + scan_, n);
            tail_len_ = keep + n;
          }
          scan_ = end_;
          drop_to(scan_);
          return false;
        }
        const auto lf = static_cast<std::size_t>(static_cast<const char*>(nl) - b);
        LiteralMark lit;
        if (lf - scan_ >= sizeof(tail_) || tail_len_ == 0) {
          lit = literal_before(b + scan_, b + lf);
        } else {
          char tmp[2 * sizeof(tail_)];
          const std::size_t n = lf - scan_;
          std::memcpy(tmp, tail_, tail_len_);
          std::memcpy(tmp + tail_len_, b + scan_, n);
          lit = literal_before(tmp, tmp + tail_len_ + n);
        }
        tail_len_ = 0;
        scan_ = lf + 1;
        drop_to(scan_);
        if (lit.found && !lit.bad) {
          literal_left_ = lit.n;
          mode_ = Mode::discard_literal;
          break;
        }
        response_ready_ = true;
        return true;
      }

      case Mode::discard_literal: {
        const std::uint64_t take = std::min<std::uint64_t>(end_ - scan_, literal_left_);
        scan_ += static_cast<std::size_t>(take);
        literal_left_ -= take;
        drop_to(scan_);
        if (literal_left_ > 0) return false;
        mode_ = Mode::discard_text;
        tail_len_ = 0;
        break;
      }
    }
  }
}

ReadStatus ResponseReader::next(Response& out) noexcept {
  try {
    if (!response_ready_ && (!buf_ || !frame())) return ReadStatus::need_more;
    response_ready_ = false;
    const std::string_view raw(buf_.get() + begin_, scan_ - begin_);
    drop_to(scan_);
    line_start_ = scan_;
    mode_ = Mode::text;
    if (discard_reason_ != ResponseErrc::ok) {
      out.clear();
      if (raw_kept_) out.raw = raw;
      out.tag = std::string_view(tag_, tag_len_);
      error_ = {discard_reason_, static_cast<std::size_t>(discard_offset_), "a response within the limits"};
      if (discard_reason_ == ResponseErrc::bad_literal) error_.expected = "literal length below 2^64";
      discard_reason_ = ResponseErrc::ok;
      raw_kept_ = false;
      return ReadStatus::error;
    }
    error_ = parse_response(raw, out, limits_);
    if (error_) {
      out.raw = raw;
      out.tag = leading_tag(raw);
      return ReadStatus::error;
    }
    return ReadStatus::response;
  } catch (...) {
    error_ = {ResponseErrc::out_of_memory, 0, {}};
    return ReadStatus::error;
  }
}

}  // namespace pimap::imap
