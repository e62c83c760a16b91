#include "https_request.hpp"

#include <cctype>

namespace pimap::edge::https {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// Splits "a, b;q=0.5" style lists; calls fn(item) for each trimmed, non-empty item.
template <class Fn>
void for_each_item(std::string_view list, char sep, Fn&& fn) {
  while (!list.empty()) {
    const auto at = list.find(sep);
    const std::string_view item = trim(list.substr(0, at));
    if (!item.empty()) fn(item);
    if (at == std::string_view::npos) break;
    list.remove_prefix(at + 1);
  }
}

// Media type without parameters, e.g. "application/vnd.pimap; charset=utf-8" -> "application/vnd.pimap".
std::string_view media_type(std::string_view v) { return trim(v.substr(0, v.find(';'))); }

// q-value of one Accept-Encoding item ("gzip;q=0.5" -> 0.5; absent -> 1). Only "is it zero" matters.
double qvalue(std::string_view item) {
  const auto semi = item.find(';');
  if (semi == std::string_view::npos) return 1.0;
  double q = 1.0;
  for_each_item(item.substr(semi + 1), ';', [&](std::string_view p) {
    if (p.size() < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=') return;
    q = 0;  // "0", "0.0", "0.000" and anything unreadable
    for (char c : p.substr(2)) {
      if (c >= '1' && c <= '9') q = 1;
    }
  });
  return q;
}

}  // namespace

std::string_view coding_name(Coding c) {
  switch (c) {
    case Coding::gzip: return "gzip";
    case Coding::deflate: return "deflate";
    case Coding::identity: break;
  }
  return "identity";
}

std::optional<Coding> request_coding(std::string_view content_encoding) {
  const std::string_view v = trim(content_encoding);
  if (v.empty() || iequal(v, "identity")) return Coding::identity;
  if (iequal(v, "gzip") || iequal(v, "x-gzip")) return Coding::gzip;
  if (iequal(v, "deflate")) return Coding::deflate;
  return std::nullopt;
}

Coding choose_response_coding(std::string_view accept_encoding) {
  bool gzip = false;
  bool deflate = false;
  for_each_item(accept_encoding, ',', [&](std::string_view item) {
    const std::string_view name = trim(item.substr(0, item.find(';')));
    const bool ok = qvalue(item) > 0;
    if (iequal(name, "gzip") || iequal(name, "x-gzip")) gzip = ok;
    if (iequal(name, "deflate")) deflate = ok;
  });
  if (gzip) return Coding::gzip;
  if (deflate) return Coding::deflate;
  return Coding::identity;
}

std::optional<std::string> session_cookie(std::string_view cookie_header) {
  std::optional<std::string> found;
  for_each_item(cookie_header, ';', [&](std::string_view pair) {
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || found) return;
    if (trim(pair.substr(0, eq)) != "PIMAPSESSION") return;
    std::string_view value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    found = std::string(value);
  });
  return found;
}

std::string session_set_cookie(std::string_view session_id, std::string_view path) {
  return "PIMAPSESSION=" + std::string(session_id) + "; Secure; HttpOnly; SameSite=Strict; Path=" + std::string(path);
}

Decision classify(const RequestHead& head, std::string_view path, const Limits& limits) {
  Decision d;
  auto fail = [&](int status, std::string reason) {
    d.status = status;
    d.reason = std::move(reason);
    return d;
  };
  if (head.method != "POST") return fail(405, "Only POST is served here");
  if (head.target.substr(0, head.target.find('?')) != path) return fail(404, "No P-IMAP binding at this path");
  const std::string_view type = media_type(head.content_type);
  if (!iequal(type, "application/vnd.pimap") && !iequal(type, "application/vnd.lemonade")) {
    return fail(415, "Content-Type must be application/vnd.pimap or application/vnd.lemonade");
  }
  const auto coding = request_coding(head.content_encoding);
  if (!coding) return fail(415, "Content-Encoding must be identity, gzip or deflate");
  d.request_coding = *coding;
  d.mode = head.chunked ? Mode::chunked : Mode::in_response;
  if (d.mode == Mode::in_response && head.content_length && *head.content_length > limits.max_body) {
    return fail(413, "Batch larger than " + std::to_string(limits.max_body) + " bytes");
  }
  d.response_coding = choose_response_coding(head.accept_encoding);
  for_each_item(head.accept, ',', [&](std::string_view item) {
    if (iequal(media_type(item), "application/vnd.pimap")) d.pimap_content_type = true;
  });
  if (auto c = session_cookie(head.cookie)) d.session = std::move(*c);
  return d;
}

}  // namespace pimap::edge::https
