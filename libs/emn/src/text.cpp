#include <pimap/emn/text.hpp>

#include <cstdio>

namespace pimap::emn {
namespace {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::optional<std::string> unescape(std::string_view s) {
  static constexpr std::pair<std::string_view, char> entities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out += s[i++];
      continue;
    }
    bool found = false;
    for (const auto& [name, c] : entities) {
      if (s.substr(i).starts_with(name)) {
        out += c;
        i += name.size();
        found = true;
        break;
      }
    }
    if (!found) return std::nullopt;
  }
  return out;
}

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int digits(std::string_view s, std::size_t at, std::size_t n) {
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

std::string format_timestamp(std::chrono::sys_seconds t) {
  const auto dt = to_date_time(t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", dt.year, dt.month, dt.day, dt.hour, dt.minute,
                dt.second);
  return buf;
}

std::optional<std::chrono::sys_seconds> parse_timestamp(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SSZ
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':' || (s[19] != 'Z' && s[19] != 'z'))
    return std::nullopt;
  DateTime dt{digits(s, 0, 4), digits(s, 5, 2), digits(s, 8, 2), digits(s, 11, 2), digits(s, 14, 2), digits(s, 17, 2)};
  return from_date_time(dt);
}

std::string to_text(const Notification& n) {
  return "<emn mailbox=\"" + escape(n.mailbox) + "\" timestamp=\"" + format_timestamp(n.timestamp) + "\"/>";
}

std::optional<Notification> parse_text(std::string_view text, std::string* error) {
  const auto start = text.find("<emn");
  if (start == std::string_view::npos || start + 4 >= text.size() ||
      !(is_space(text[start + 4]) || text[start + 4] == '/' || text[start + 4] == '>')) {
    fail(error, "no <emn> element");
    return std::nullopt;
  }
  const auto end = text.find('>', start);
  if (end == std::string_view::npos) {
    fail(error, "unterminated <emn> element");
    return std::nullopt;
  }
  std::string_view attrs = text.substr(start + 4, end - start - 4);
  std::optional<std::string> mailbox, timestamp;
  std::size_t i = 0;
  while (i < attrs.size()) {
    while (i < attrs.size() && is_space(attrs[i])) ++i;
    if (i >= attrs.size() || attrs[i] == '/') break;
    const auto eq = attrs.find('=', i);
    if (eq == std::string_view::npos || eq + 1 >= attrs.size()) {
      fail(error, "malformed attribute");
      return std::nullopt;
    }
    std::string_view name = attrs.substr(i, eq - i);
    while (!name.empty() && is_space(name.back())) name.remove_suffix(1);
    std::size_t v = eq + 1;
    while (v < attrs.size() && is_space(attrs[v])) ++v;
    if (v >= attrs.size() || (attrs[v] != '"' && attrs[v] != '\'')) {
      fail(error, "unquoted attribute value");
      return std::nullopt;
    }
    const char quote = attrs[v];
    const auto close = attrs.find(quote, v + 1);
    if (close == std::string_view::npos) {
      fail(error, "unterminated attribute value");
      return std::nullopt;
    }
    auto value = unescape(attrs.substr(v + 1, close - v - 1));
    if (!value) {
      fail(error, "unknown entity in attribute value");
      return std::nullopt;
    }
    if (name == "mailbox") mailbox = std::move(*value);
    else if (name == "timestamp") timestamp = std::move(*value);
    i = close + 1;
  }
  if (!mailbox || mailbox->empty()) {
    fail(error, "no mailbox attribute");
    return std::nullopt;
  }
  if (!timestamp) {
    fail(error, "no timestamp attribute");
    return std::nullopt;
  }
  auto t = parse_timestamp(*timestamp);
  if (!t) {
    fail(error, "malformed timestamp '" + *timestamp + "'");
    return std::nullopt;
  }
  return Notification{std::move(*mailbox), *t};
}

}  // namespace pimap::emn
