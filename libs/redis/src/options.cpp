#include <pimap/redis/options.hpp>

#include <charconv>

namespace pimap::redis {
namespace {

bool parse_int(std::string_view s, int& out, int min, int max) {
  int v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty() || v < min || v > max) return false;
  out = v;
  return true;
}

Error bad(std::string_view address, std::string_view why) {
  return Error{ErrorKind::unexpected,
               "invalid redis address '" + std::string(address) + "': " + std::string(why)};
}

}  // namespace

Result<Options> parse_address(std::string_view address, Options base) {
  const std::string_view original = address;
  constexpr std::string_view scheme = "redis://";
  if (address.starts_with(scheme)) {
    address.remove_prefix(scheme.size());
    if (auto at = address.rfind('@'); at != std::string_view::npos) {
      std::string_view userinfo = address.substr(0, at);
      address.remove_prefix(at + 1);
      // redis://:password@host or redis://user:password@host (ACL user names are not supported).
      auto colon = userinfo.find(':');
      base.password = std::string(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
    }
    if (auto slash = address.find('/'); slash != std::string_view::npos) {
      std::string_view db = address.substr(slash + 1);
      address = address.substr(0, slash);
      if (!db.empty() && !parse_int(db, base.db, 0, 1 << 16)) return bad(original, "bad database number");
    }
  }
  std::string_view host = address;
  std::string_view port;
  if (address.starts_with('[')) {
    auto close = address.find(']');
    if (close == std::string_view::npos) return bad(original, "unbalanced '['");
    host = address.substr(1, close - 1);
    std::string_view rest = address.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad(original, "expected ':' after ']'");
      port = rest.substr(1);
    }
  } else if (auto colon = address.rfind(':'); colon != std::string_view::npos) {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.empty()) return bad(original, "empty host");
  base.host = std::string(host);
  base.port = 6379;
  if (!port.empty() && !parse_int(port, base.port, 1, 65535)) return bad(original, "bad port");
  return base;
}

}  // namespace pimap::redis
