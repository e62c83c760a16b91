#include "pimap/kit/host_port.hpp"

#include <charconv>

namespace pimap::kit {

std::optional<HostPort> HostPort::parse(std::string_view text, std::string* why) {
  auto fail = [why](const char* reason) -> std::optional<HostPort> {
    if (why) *why = reason;
    return std::nullopt;
  };
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return fail("unclosed '[' in IPv6 address");
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return fail("expected ':port' after ']'");
    port = rest.substr(1);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected host:port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail("IPv6 addresses need brackets: [::1]:port");
  }
  if (host.empty()) return fail("empty host");
  for (char c : host) {
    if (c <= ' ' || c == '/' || c == '[' || c == ']') return fail("invalid character in host");
  }
  if (port.empty()) return fail("empty port");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size()) return fail("port is not a number");
  if (value > 65535) return fail("port out of range 0..65535");
  return HostPort{std::string(host), static_cast<std::uint16_t>(value)};
}

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace pimap::kit
