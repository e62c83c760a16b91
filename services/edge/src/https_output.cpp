#include "https_output.hpp"

namespace pimap::edge::https {

std::int64_t trailing_literal(std::string_view line) {
  if (line.empty() || line.back() != '}') return -1;
  const auto open = line.rfind('{');
  if (open == std::string_view::npos) return -1;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 18) return -1;
  std::int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

void OutputScanner::feed(std::string_view bytes, const Sink& sink) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (literal_left_ > 0) {
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(literal_left_, bytes.size() - pos));
      partial_.append(bytes.substr(pos, take));
      pos += take;
      literal_left_ -= take;
      if (literal_left_ == 0) line_start_ = partial_.size();
      continue;
    }
    const auto nl = bytes.find('\n', pos);
    if (nl == std::string_view::npos) {
      partial_.append(bytes.substr(pos));
      break;
    }
    partial_.append(bytes.substr(pos, nl + 1 - pos));
    pos = nl + 1;
    std::string_view line(partial_.data() + line_start_, partial_.size() - line_start_ - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (const auto n = trailing_literal(line); n >= 0) {
      literal_left_ = static_cast<std::uint64_t>(n);
      line_start_ = partial_.size();
      continue;
    }
    emit(partial_, sink);
    partial_.clear();
    line_start_ = 0;
  }
}

void OutputScanner::emit(std::string_view response, const Sink& sink) {
  Response r;
  r.bytes = response;
  if (response.starts_with("* ") || response.starts_with("*\r")) {
    r.kind = Response::Kind::untagged;
  } else if (response.starts_with("+")) {
    r.kind = Response::Kind::continuation;
  } else {
    r.kind = Response::Kind::tagged;
    r.tag = response.substr(0, response.find(' '));
  }
  sink(r);
}

}  // namespace pimap::edge::https
