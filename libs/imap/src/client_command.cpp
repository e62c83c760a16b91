#include "pimap/imap/client_command.hpp"

namespace pimap::imap {

namespace {

constexpr std::size_t kMaxQuoted = 1024;
constexpr std::size_t kLiteralMinusMax = 4096;

bool line_safe(std::string_view s) noexcept {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

}  // namespace

bool is_imap_atom(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    switch (c) {
      case '(': case ')': case '{': case '%': case '*': case '"': case '\\':
        return false;
      default:
        break;
    }
  }
  return true;
}

bool is_imap_quotable(std::string_view s) noexcept {
  if (s.size() > kMaxQuoted) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || u >= 0x80) return false;
  }
  return true;
}

ClientCommand::ClientCommand(std::string_view text) {
  if (!text.empty()) text_piece().data.append(text);
}

ClientCommand::Piece& ClientCommand::text_piece() {
  if (pieces_.empty() || pieces_.back().kind != Piece::Kind::text) pieces_.push_back({Piece::Kind::text, {}});
  return pieces_.back();
}

ClientCommand& ClientCommand::arg(std::string_view text) {
  Piece& p = text_piece();
  p.data += ' ';
  p.data.append(text);
  return *this;
}

ClientCommand& ClientCommand::raw(std::string_view text) {
  text_piece().data.append(text);
  return *this;
}

ClientCommand& ClientCommand::astring(std::string_view s) {
  if (is_imap_atom(s)) return arg(s);
  return string(s);
}

ClientCommand& ClientCommand::string(std::string_view s) {
  if (!is_imap_quotable(s)) return literal(s);
  Piece& p = text_piece();
  p.data += ' ';
  append_quoted(p.data, s);
  return *this;
}

ClientCommand& ClientCommand::literal(std::string_view s) {
  text_piece().data += ' ';
  pieces_.push_back({Piece::Kind::literal, std::string(s)});
  return *this;
}

ClientCommand& ClientCommand::continuation(std::string_view line) {
  pieces_.push_back({Piece::Kind::continuation, std::string(line)});
  return *this;
}

std::string ClientCommand::verb() const {
  if (pieces_.empty() || pieces_.front().kind != Piece::Kind::text) return {};
  std::string_view t = pieces_.front().data;
  std::size_t end = t.find(' ');
  std::string_view first = t.substr(0, end);
  if (end != std::string_view::npos && (ascii_iequals(first, "UID"))) {
    const std::size_t second = t.find(' ', end + 1);
    return std::string(t.substr(0, second));
  }
  return std::string(first);
}

bool ClientCommand::valid() const noexcept {
  if (pieces_.empty()) return false;
  for (const Piece& p : pieces_)
    if (p.kind != Piece::Kind::literal && !line_safe(p.data)) return false;
  return true;
}

std::vector<CommandChunk> serialize_command(const ClientCommand& cmd, std::string_view tag, LiteralMode mode) {
  std::vector<CommandChunk> chunks(1);
  chunks.back().bytes.append(tag);
  chunks.back().bytes += ' ';
  for (const auto& p : cmd.pieces()) {
    switch (p.kind) {
      case ClientCommand::Piece::Kind::text:
        chunks.back().bytes += p.data;
        break;
      case ClientCommand::Piece::Kind::literal: {
        const bool nonsync =
            mode == LiteralMode::plus || (mode == LiteralMode::minus && p.data.size() <= kLiteralMinusMax);
        std::string& b = chunks.back().bytes;
        b += '{';
        b += std::to_string(p.data.size());
        b += nonsync ? "+}\r\n" : "}\r\n";
        if (!nonsync) {
          chunks.back().wait_for_continuation = true;
          chunks.emplace_back();
        }
        chunks.back().bytes += p.data;
        break;
      }
      case ClientCommand::Piece::Kind::continuation:
        chunks.back().bytes += "\r\n";
        chunks.back().wait_for_continuation = true;
        chunks.emplace_back();
        chunks.back().bytes += p.data;
        break;
    }
  }
  chunks.back().bytes += "\r\n";
  return chunks;
}

std::string trace_command(const ClientCommand& cmd, std::string_view tag) {
  std::string out(tag);
  out += ' ';
  if (cmd.is_sensitive()) {
    out += cmd.verb();
    out += " <redacted>";
    return out;
  }
  for (const auto& p : cmd.pieces()) {
    switch (p.kind) {
      case ClientCommand::Piece::Kind::text:
        out += p.data;
        break;
      case ClientCommand::Piece::Kind::literal:
        out += "{" + std::to_string(p.data.size()) + " bytes}";
        break;
      case ClientCommand::Piece::Kind::continuation:
        out += " <continuation " + std::to_string(p.data.size()) + " bytes>";
        break;
    }
  }
  return out;
}

}  // namespace pimap::imap
