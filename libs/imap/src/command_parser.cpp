// Framing: splits the byte stream into commands (lines + literals) under ParserLimits, asks for
// continuations, resynchronises after errors. The grammar runs once a command is complete
// (command_grammar.cpp).

#include "pimap/imap/command_parser.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "command_cursor.hpp"
#include "command_grammar.hpp"

namespace pimap::imap {
namespace {

constexpr std::uint64_t kHuge = std::uint64_t{1} << 60;  // "more than any limit" for literal sizes
constexpr std::size_t kMaxTag = 256;
constexpr std::size_t kLiteralReserve = 256 * 1024;

// The tag at the start of `text` if it is a valid one followed by SP or end of line.
std::string tag_of(std::string_view text) {
  std::size_t n = 0;
  while (n < text.size() && n < kMaxTag && detail::chars::is(text[n], detail::chars::kTag)) ++n;
  if (n == 0 || n >= text.size() || n == kMaxTag) return {};
  if (text[n] != ' ' && text[n] != '\r' && text[n] != '\n') return {};
  return std::string(text.substr(0, n));
}

// "APPEND" from "a1 append {5}" / "FETCH" from "a1 UID fetch ...".
std::string command_of(std::string_view text) {
  std::size_t p = text.find(' ');
  if (p == std::string_view::npos) return {};
  auto word = [&text](std::size_t from) {
    std::size_t e = from;
    while (e < text.size() && detail::chars::is(text[e], detail::chars::kAtom) && e - from < 32) ++e;
    std::string w(text.substr(from, e - from));
    for (char& c : w) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return std::make_pair(w, e);
  };
  auto [name, end] = word(p + 1);
  if (name == "UID" && end < text.size() && text[end] == ' ') name = word(end + 1).first;
  return name;
}

std::string_view strip_eol(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

void CommandParser::LineScan::scan(std::string_view bytes) {
  for (const char c : bytes) {
    if (quote == Quote::in) {
      if (c == '\\') quote = Quote::escape;
      else if (c == '"') quote = Quote::out;
      prev = c;
      continue;
    }
    if (quote == Quote::escape) {
      quote = Quote::in;
      prev = c;
      continue;
    }
    switch (c) {
      case '"':
        quote = Quote::in;
        lit = Lit::none;
        break;
      case '{':
        lit = Lit::open;
        binary = prev == '~';
        nonsync = false;
        value = 0;
        break;
      case '+':
        if (lit == Lit::digits) {
          lit = Lit::plus;
          nonsync = true;
        } else {
          lit = Lit::none;
        }
        break;
      case '}':
        lit = (lit == Lit::digits || lit == Lit::plus) ? Lit::closed : Lit::none;
        break;
      case '\r':
        lit = lit == Lit::closed ? Lit::closed_cr : Lit::none;
        break;
      default:
        if (c >= '0' && c <= '9' && (lit == Lit::open || lit == Lit::digits)) {
          lit = Lit::digits;
          value = value >= kHuge / 10 ? kHuge : value * 10 + static_cast<std::uint64_t>(c - '0');
        } else {
          lit = Lit::none;
        }
    }
    prev = c;
  }
}

CommandParser::CommandParser(ParserLimits limits) : limits_(limits) {}

void CommandParser::feed(std::string_view bytes) {
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
  in_.append(bytes);
}

void CommandParser::feed(std::span<const std::byte> bytes) {
  feed(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

bool CommandParser::idle() const { return state_ == State::line && cur_.empty(); }

bool CommandParser::expect_idle_done() {
  if (!idle()) return false;
  mode_ = Mode::idle_done;
  return true;
}

bool CommandParser::expect_sasl_response() {
  if (!idle()) return false;
  mode_ = Mode::sasl;
  return true;
}

bool CommandParser::reject_literal() {
  if (!continuation_pending_ || state_ != State::literal) return false;
  reset_command();
  state_ = State::line;
  return true;
}

void CommandParser::reset_command() {
  cur_.clear();
  seg_start_ = 0;
  text_bytes_ = 0;
  literal_left_ = 0;
  literal_bytes_ = 0;
  continuation_pending_ = false;
  scan_.reset();
}

void CommandParser::compact() {
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
    if (in_.capacity() > (std::size_t{1} << 20)) in_.shrink_to_fit();
  } else if (in_pos_ > 4096 && in_pos_ * 2 > in_.size()) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
}

ParseError CommandParser::error_here(ErrorCode code, std::string reason) {
  ParseError e;
  e.code = code;
  e.reason = std::move(reason);
  if (mode_ == Mode::command) {
    // The tag may still be split between the held bytes and the queued input. Look at no more than a
    // line limit's worth, which is always there when the line is too long, so the answer does not
    // depend on how the input was split.
    const std::size_t window = std::min(kMaxTag, limits_.max_line_length) + 1;
    std::string head = cur_.substr(0, window);
    if (head.size() < window) head += std::string_view(in_).substr(in_pos_, window - head.size());
    e.tag = tag_of(head);
  }
  return e;
}

// Drops what is held of the current command; the current line's remaining bytes (still in in_) are
// skipped by State::discard_line, which keeps scanning for a literal announcement at its end.
void CommandParser::start_discarding(bool in_line) {
  const LineScan scan = scan_;
  reset_command();
  if (in_line) {
    scan_ = scan;
    state_ = State::discard_line;
  }
}

ParseEvent CommandParser::next() {
  for (;;) {
    const std::string_view avail(in_.data() + in_pos_, in_.size() - in_pos_);
    switch (state_) {
      case State::line: {
        if (avail.empty()) {
          compact();
          return NeedMore{};
        }
        const auto* nl = static_cast<const char*>(std::memchr(avail.data(), '\n', avail.size()));
        const std::size_t take = nl != nullptr ? static_cast<std::size_t>(nl - avail.data()) + 1 : avail.size();
        if (text_bytes_ + (cur_.size() - seg_start_) + take > limits_.max_line_length) {
          ParseError e = error_here(ErrorCode::line_too_long,
                                    "command line longer than " + std::to_string(limits_.max_line_length) +
                                        " bytes");
          // IDLE and SASL lines carry no literals, so only a command line's end is looked at. The
          // discarded rest of the line is scanned as it streams by, so catch up on what is held.
          discard_literals_ = mode_ == Mode::command;
          scan_.reset();
          scan_.scan(std::string_view(cur_).substr(seg_start_));
          mode_ = Mode::command;
          start_discarding(true);
          return e;
        }
        cur_.append(avail.data(), take);
        in_pos_ += take;
        if (nl == nullptr) {
          compact();
          return NeedMore{};
        }
        std::optional<ParseEvent> ev = on_line_end();
        if (ev) {
          compact();
          return std::move(*ev);
        }
        continue;
      }
      case State::literal: {
        if (literal_left_ == 0) {
          state_ = State::line;
          seg_start_ = cur_.size();
          scan_.reset();
          continue;
        }
        if (avail.empty()) {
          compact();
          return NeedMore{};
        }
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(literal_left_, avail.size()));
        cur_.append(avail.data(), take);
        in_pos_ += take;
        literal_left_ -= take;
        continuation_pending_ = false;
        continue;
      }
      case State::discard_literal: {
        if (literal_left_ == 0) {
          state_ = State::discard_line;
          scan_.reset();
          continue;
        }
        if (avail.empty()) {
          compact();
          return NeedMore{};
        }
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(literal_left_, avail.size()));
        in_pos_ += take;
        literal_left_ -= take;
        continue;
      }
      case State::discard_line: {
        if (avail.empty()) {
          compact();
          return NeedMore{};
        }
        const auto* nl = static_cast<const char*>(std::memchr(avail.data(), '\n', avail.size()));
        if (nl == nullptr) {
          scan_.scan(avail);
          in_pos_ = in_.size();
          compact();
          return NeedMore{};
        }
        const std::size_t len = static_cast<std::size_t>(nl - avail.data());
        scan_.scan(avail.substr(0, len));
        in_pos_ += len + 1;
        if (discard_literals_ && scan_.literal_at_end() && scan_.nonsync) {
          // The client sends a non-synchronising literal without waiting: skip it and the rest of the
          // command. (A synchronising one will not come: the client got our error instead of "+".)
          literal_left_ = scan_.value;
          state_ = State::discard_literal;
          continue;
        }
        reset_command();
        state_ = State::line;
        continue;
      }
    }
  }
}

std::optional<ParseEvent> CommandParser::on_line_end() {
  const std::string_view line = std::string_view(cur_).substr(seg_start_);
  if (mode_ == Mode::idle_done) {
    mode_ = Mode::command;
    const bool done = iequals(strip_eol(line), "DONE");
    reset_command();
    if (done) return ParseEvent{IdleDone{}};
    return ParseEvent{ParseError{ErrorCode::expected_done, {}, "expected DONE to end IDLE"}};
  }
  if (mode_ == Mode::sasl) {
    mode_ = Mode::command;
    SaslResponse r{std::string(strip_eol(line))};
    reset_command();
    return ParseEvent{std::move(r)};
  }
  if (seg_start_ == 0 && strip_eol(line).empty()) {
    reset_command();  // tolerate empty lines between commands
    return std::nullopt;
  }
  // Only a line ending in "}" can announce a literal; only then does quoting matter, so most lines are
  // never scanned byte by byte.
  const std::string_view text = strip_eol(line);
  if (text.empty() || text.back() != '}') return finish_command();
  scan_.reset();
  scan_.scan(line.substr(0, line.size() - 1));
  if (scan_.literal_at_end()) return on_literal_announced();
  return finish_command();
}

std::optional<ParseEvent> CommandParser::on_literal_announced() {
  const std::uint64_t n = scan_.value;
  const bool nonsync = scan_.nonsync;
  const bool binary = scan_.binary;
  text_bytes_ += cur_.size() - seg_start_;

  std::optional<ErrorCode> code;
  std::string reason;
  const std::string size = n >= kHuge ? std::string("huge") : std::to_string(n);
  if (n > limits_.max_literal_size) {
    code = ErrorCode::literal_too_large;
    reason = "literal of " + size + " bytes exceeds the limit of " + std::to_string(limits_.max_literal_size);
  } else if (nonsync && n > limits_.max_nonsync_literal_size) {
    code = ErrorCode::literal_too_large;
    reason = "non-synchronising literal of " + size + " bytes exceeds the limit of " +
             std::to_string(limits_.max_nonsync_literal_size) + "; use a synchronising literal";
  } else if (literal_bytes_ + n > limits_.max_command_literal_bytes) {
    code = ErrorCode::command_too_large;
    reason = "literals of this command exceed " + std::to_string(limits_.max_command_literal_bytes) + " bytes";
  }
  if (code) {
    ParseError e = error_here(*code, std::move(reason));
    e.refused_sync_literal = !nonsync;
    reset_command();
    if (nonsync) {
      literal_left_ = n;
      discard_literals_ = true;
      state_ = State::discard_literal;
    } else {
      state_ = State::line;
    }
    return ParseEvent{std::move(e)};
  }

  literal_left_ = n;
  literal_bytes_ += n;
  state_ = State::literal;
  cur_.reserve(cur_.size() + static_cast<std::size_t>(std::min<std::uint64_t>(n, kLiteralReserve)));
  if (nonsync) return std::nullopt;
  continuation_pending_ = true;
  return ParseEvent{LiteralContinuation{tag_of(cur_), command_of(cur_), n, binary}};
}

std::optional<ParseEvent> CommandParser::finish_command() {
  auto storage = std::make_shared<detail::CommandStorage>();
  storage->raw = std::move(cur_);
  reset_command();
  auto result = detail::parse_grammar(std::move(storage), limits_);
  if (auto* cmd = std::get_if<Command>(&result)) return ParseEvent{std::move(*cmd)};
  return ParseEvent{std::move(std::get<ParseError>(result))};
}

std::variant<Command, ParseError> parse_command(std::string_view bytes, const ParserLimits& limits,
                                                std::size_t* consumed) {
  CommandParser p(limits);
  p.feed(bytes);
  for (;;) {
    ParseEvent ev = p.next();
    if (consumed != nullptr) *consumed = bytes.size() - p.buffered();
    if (auto* cmd = std::get_if<Command>(&ev)) return std::move(*cmd);
    if (auto* err = std::get_if<ParseError>(&ev)) return std::move(*err);
    if (std::holds_alternative<NeedMore>(ev)) {
      return ParseError{ErrorCode::syntax, tag_of(bytes), "incomplete command"};
    }
  }
}

}  // namespace pimap::imap
