#pragma once
// A network address as written in configuration: "host:port" or "[v6addr]:port".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pimap::kit {

struct HostPort {
  std::string host;  // name or address literal, without IPv6 brackets
  // 0 is allowed: a listener given port 0 takes any free port (tests use this and read the real port
  // back from the component); a client connecting to port 0 fails on its own.
  std::uint16_t port = 0;

  // nullopt when `text` is not host:port; `why` (if given) receives a short reason.
  static std::optional<HostPort> parse(std::string_view text, std::string* why = nullptr);

  // Canonical text; IPv6 hosts get their brackets back so the result parses again.
  std::string to_string() const;

  friend bool operator==(const HostPort&, const HostPort&) = default;
};

}  // namespace pimap::kit
