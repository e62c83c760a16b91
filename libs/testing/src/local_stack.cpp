#include "pimap/testing/local_stack.hpp"

#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>

namespace pimap::testing {

Endpoint parse_endpoint(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos) throw std::invalid_argument("not host:port: " + std::string(s));
  return {std::string(s.substr(0, colon)), static_cast<std::uint16_t>(std::stoi(std::string(s.substr(colon + 1))))};
}

const LocalStack* local_stack() {
  static const std::unique_ptr<LocalStack> stack = []() -> std::unique_ptr<LocalStack> {
    const char* path = std::getenv("PIMAP_STACK_JSON");
    if (!path || !*path) return nullptr;
    std::ifstream f(path);
    if (!f) throw std::runtime_error(std::string("cannot read PIMAP_STACK_JSON file ") + path);
    std::stringstream text;
    text << f.rdbuf();
    const auto j = boost::json::parse(text.str()).as_object();
    auto st = std::make_unique<LocalStack>();
    const auto& d = j.at("dovecot").as_object();
    st->imap = parse_endpoint(d.at("imap").as_string());
    st->imaps = parse_endpoint(d.at("imaps").as_string());
    st->lmtp = parse_endpoint(d.at("lmtp").as_string());
    st->master_user = std::string(d.at("master_user").as_string());
    st->master_password = std::string(d.at("master_password").as_string());
    if (const auto* sep = d.if_contains("master_user_separator")) st->separator = std::string(sep->as_string());
    st->ca_cert = std::string(j.at("ca_cert").as_string());
    for (const auto& u : j.at("users").as_array()) {
      const auto& o = u.as_object();
      st->users.push_back({std::string(o.at("name").as_string()), std::string(o.at("password").as_string()),
                           std::string(o.at("email").as_string())});
    }
    return st;
  }();
  return stack.get();
}

std::string random_token() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::ostringstream o;
  o << std::hex << rng();
  return o.str();
}

}  // namespace pimap::testing
