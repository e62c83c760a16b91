#pragma once

// Small value types shared by the IMAP response model (store -> edge / store-watcher direction).
// They are views: every std::string_view points either into the buffer the response was parsed from
// or into the StringArena of the object that owns the parse result. Neither outlives its owner.

#include <cstddef>
#include <cstdint>
#include <forward_list>
#include <iterator>
#include <string>
#include <string_view>

namespace pimap::imap {

// Case-insensitive ASCII comparison, as IMAP compares keywords, capability names and flag names.
bool ascii_iequals(std::string_view a, std::string_view b) noexcept;

// Holds the few strings that cannot be views into the wire buffer: quoted strings that contained
// `\"` or `\\` escapes. Node-based so views handed out stay valid when the arena (or its owner) moves.
class StringArena {
 public:
  StringArena() = default;
  StringArena(StringArena&&) noexcept = default;
  StringArena& operator=(StringArena&&) noexcept = default;
  StringArena(const StringArena&) = delete;
  StringArena& operator=(const StringArena&) = delete;

  std::string_view store(std::string&& s) {
    list_.push_front(std::move(s));
    return list_.front();
  }
  void clear() noexcept { list_.clear(); }

 private:
  std::forward_list<std::string> list_;
};

// An IMAP nstring: NIL or a string (quoted, literal or literal8), already decoded: `str` is the
// unescaped content of a quoted string, the payload of a literal.
struct NStringView {
  std::string_view str;
  bool nil = true;

  explicit operator bool() const noexcept { return !nil; }
  friend bool operator==(const NStringView&, const NStringView&) = default;
};

// A space-separated run of atoms, e.g. the inside of `FLAGS (\Seen $Forwarded)` or the capability list
// of `* CAPABILITY IMAP4rev1 IDLE`. Tokenised on iteration, so holding one costs nothing.
class AtomList {
 public:
  AtomList() = default;
  explicit AtomList(std::string_view raw) noexcept : raw_(raw) {}

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string_view*;
    using reference = std::string_view;

    iterator() = default;
    iterator(std::string_view rest) noexcept : rest_(rest) { advance(); }
    std::string_view operator*() const noexcept { return cur_; }
    iterator& operator++() noexcept {
      advance();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator t = *this;
      advance();
      return t;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.cur_.data() == b.cur_.data() && a.cur_.size() == b.cur_.size();
    }

   private:
    void advance() noexcept;
    std::string_view rest_;
    std::string_view cur_;
  };

  iterator begin() const noexcept { return iterator(raw_); }
  iterator end() const noexcept { return iterator(); }
  bool empty() const noexcept { return begin() == end(); }
  std::size_t size() const noexcept;
  // Case-insensitive membership; `contains("AUTH=PLAIN")`, `contains("\\Seen")`.
  bool contains(std::string_view atom) const noexcept;
  // True if some atom starts with `prefix` (case-insensitive), e.g. "COMPRESS=".
  bool contains_prefix(std::string_view prefix) const noexcept;
  std::string_view raw() const noexcept { return raw_; }

 private:
  std::string_view raw_;
};

// An IMAP sequence-set / uid-set as sent by the server (`1:4,7,9:*`), e.g. in VANISHED, APPENDUID,
// COPYUID, ESEARCH ALL. Iteration yields closed ranges; `*` is reported as UINT32_MAX.
class NumberSet {
 public:
  struct Range {
    std::uint32_t first = 0;
    std::uint32_t last = 0;
    friend bool operator==(const Range&, const Range&) = default;
  };

  NumberSet() = default;
  // Does not validate; use valid() (parsers only store sets that passed it).
  explicit NumberSet(std::string_view raw) noexcept : raw_(raw) {}

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Range;
    using difference_type = std::ptrdiff_t;
    using pointer = const Range*;
    using reference = Range;

    iterator() = default;
    explicit iterator(std::string_view rest) noexcept : rest_(rest), at_end_(false) { advance(); }
    Range operator*() const noexcept { return cur_; }
    iterator& operator++() noexcept {
      advance();
      return *this;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.at_end_ == b.at_end_ && (a.at_end_ || a.rest_.data() == b.rest_.data());
    }

   private:
    void advance() noexcept;
    std::string_view rest_;
    Range cur_;
    bool at_end_ = true;
  };

  iterator begin() const noexcept { return iterator(raw_); }
  iterator end() const noexcept { return iterator(); }
  bool empty() const noexcept { return raw_.empty(); }
  // Syntax check: 1*(number / number ":" number / "*") separated by ",", numbers non-zero, 32-bit.
  static bool valid(std::string_view raw) noexcept;
  bool contains(std::uint32_t n) const noexcept;
  // Number of members (ranges may be written high:low; `*` counts as UINT32_MAX). Saturates.
  std::uint64_t count() const noexcept;
  std::string_view raw() const noexcept { return raw_; }

 private:
  std::string_view raw_;
};

}  // namespace pimap::imap
