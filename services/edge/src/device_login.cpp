#include "device_login.hpp"

namespace pimap::edge {

bool valid_device_id(std::string_view id) {
  if (id.size() < 2 || id.size() > 65 || id.front() != 'P') return false;
  for (char c : id.substr(1)) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

DeviceLogin parse_login_name(std::string_view name) {
  const auto at = name.find('@');
  const std::string_view local = name.substr(0, at);
  const std::string_view domain = at == std::string_view::npos ? std::string_view{} : name.substr(at);
  const auto hash = local.rfind('#');
  if (hash != std::string_view::npos && hash > 0) {
    const std::string_view device = local.substr(hash + 1);
    if (valid_device_id(device)) {
      DeviceLogin out;
      out.store_user.assign(local.substr(0, hash));
      out.store_user.append(domain);
      out.device_id.assign(device);
      return out;
    }
  }
  return DeviceLogin{std::string(name), {}};
}

}  // namespace pimap::edge
