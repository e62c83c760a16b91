#include "pimap/kit/redaction.hpp"

#include <string>
#include <vector>

namespace pimap::kit {

bool is_sensitive_key(std::string_view key) {
  std::string lower;
  lower.reserve(key.size());
  for (char c : key) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;

  for (std::string_view part : {"password", "passwd", "secret", "credential", "authorization"})
    if (lower.find(part) != std::string::npos) return true;

  std::vector<std::string_view> words;
  std::string_view rest = lower;
  while (!rest.empty()) {
    auto cut = rest.find_first_of("_.-");
    words.push_back(rest.substr(0, cut));
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + 1);
  }
  for (std::size_t i = 0; i < words.size(); ++i) {
    auto w = words[i];
    if (w == "pass" || w == "pwd" || w == "token" || w == "cookie" || w == "apikey") return true;
    if (w == "api" && i + 1 < words.size() && words[i + 1] == "key") return true;
  }
  return false;
}

}  // namespace pimap::kit
