#include "pimap/kit/readiness.hpp"

#include "json_text.hpp"

namespace pimap::kit {

void Readiness::add_check(std::string name, std::function<bool()> check) {
  std::lock_guard lock(mutex_);
  checks_.emplace_back(std::move(name), std::move(check));
}

Readiness::Report Readiness::evaluate() const {
  Report report;
  report.draining = draining();
  std::lock_guard lock(mutex_);
  for (const auto& [name, check] : checks_) {
    bool ok = false;
    try {
      ok = check();
    } catch (...) {
      ok = false;
    }
    if (!ok) report.failing.push_back(name);
  }
  report.ready = !report.draining && report.failing.empty();
  return report;
}

std::string Readiness::Report::to_json() const {
  if (ready) return "{\"ready\":true}";
  std::string out = "{\"ready\":false";
  if (draining) out += ",\"draining\":true";
  if (!failing.empty()) {
    out += ",\"failing\":[";
    for (std::size_t i = 0; i < failing.size(); ++i) {
      if (i) out += ',';
      detail::append_json_string(out, failing[i]);
    }
    out += ']';
  }
  return out + "}";
}

}  // namespace pimap::kit
