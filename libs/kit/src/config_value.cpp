#include "pimap/kit/config_value.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace pimap::kit {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

// How the offending text appears in a message: quoted, or hidden for secrets.
std::string shown(const KeySpec& spec, std::string_view text) {
  if (spec.secret) return "a value (not shown: secret)";
  return "'" + std::string(text) + "'";
}

std::string expected(const KeySpec& spec, std::string_view what, std::string_view text) {
  return "expected " + std::string(what) + ", got " + shown(spec, text);
}

std::string format_real(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  std::string out = std::to_string(ms / 1000);
  if (auto frac = ms % 1000; frac != 0) {
    std::string f = std::to_string(frac);
    f.insert(0, 3 - f.size(), '0');
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "s";
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::size_t unit_at = text.size();
  while (unit_at > 0 && ((text[unit_at - 1] >= 'a' && text[unit_at - 1] <= 'z'))) --unit_at;
  std::string_view number = text.substr(0, unit_at);
  std::string_view unit = text.substr(unit_at);
  double factor = 1000.0;
  if (unit.empty() || unit == "s") factor = 1000.0;
  else if (unit == "ms") factor = 1.0;
  else if (unit == "m") factor = 60'000.0;
  else if (unit == "h") factor = 3'600'000.0;
  else return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size()) return std::nullopt;
  if (!std::isfinite(value) || value < 0) return std::nullopt;
  double ms = std::round(value * factor);
  if (ms > static_cast<double>(std::numeric_limits<std::int64_t>::max() / 2)) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

}  // namespace

ParseResult parse_value(const KeySpec& spec, std::string_view raw) {
  std::string_view text = spec.type == ValueType::string ? raw : trim(raw);
  Value value;
  switch (spec.type) {
    case ValueType::string:
      value = std::string(text);
      break;
    case ValueType::integer: {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        return expected(spec, "an integer", text);
      value = v;
      break;
    }
    case ValueType::real: {
      double v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
        return expected(spec, "a number", text);
      value = v;
      break;
    }
    case ValueType::boolean:
      if (iequals(text, "true") || iequals(text, "yes") || iequals(text, "on") || text == "1") value = true;
      else if (iequals(text, "false") || iequals(text, "no") || iequals(text, "off") || text == "0")
        value = false;
      else return expected(spec, "true or false", text);
      break;
    case ValueType::duration: {
      auto d = parse_duration(text);
      if (!d) return expected(spec, "a duration in seconds (e.g. 25, 0.5, 250ms, 5m)", text);
      value = *d;
      break;
    }
    case ValueType::host_port: {
      std::string why;
      auto hp = HostPort::parse(text, &why);
      if (!hp) return expected(spec, "host:port", text) + " (" + why + ")";
      value = std::move(*hp);
      break;
    }
    case ValueType::enumeration: {
      const std::string* match = nullptr;
      for (const auto& allowed : spec.allowed)
        if (iequals(allowed, text)) match = &allowed;
      if (!match) {
        std::string list;
        for (const auto& allowed : spec.allowed) list += (list.empty() ? "" : "|") + allowed;
        return expected(spec, "one of " + list, text);
      }
      value = *match;
      break;
    }
    case ValueType::string_list: {
      std::vector<std::string> items;
      std::string_view rest = text;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        auto item = trim(rest.substr(0, comma));
        if (!item.empty()) items.emplace_back(item);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      value = std::move(items);
      break;
    }
  }
  if (auto problem = check_value(spec, value)) return *problem;
  return value;
}

std::optional<std::string> check_value(const KeySpec& spec, const Value& value) {
  auto out_of_range = [&](const std::string& v, const std::string& lo, const std::string& hi) {
    return (spec.secret ? std::string("value") : v) + " is out of range [" + lo + ", " + hi + "]";
  };
  const std::string any_low = "-inf";
  const std::string any_high = "inf";
  if (const auto* i = std::get_if<std::int64_t>(&value); i && spec.type == ValueType::integer) {
    if ((spec.min_int && *i < *spec.min_int) || (spec.max_int && *i > *spec.max_int))
      return out_of_range(std::to_string(*i), spec.min_int ? std::to_string(*spec.min_int) : any_low,
                          spec.max_int ? std::to_string(*spec.max_int) : any_high);
  }
  if (const auto* r = std::get_if<double>(&value)) {
    if ((spec.min_real && *r < *spec.min_real) || (spec.max_real && *r > *spec.max_real))
      return out_of_range(format_real(*r), spec.min_real ? format_real(*spec.min_real) : any_low,
                          spec.max_real ? format_real(*spec.max_real) : any_high);
  }
  if (const auto* d = std::get_if<std::chrono::milliseconds>(&value)) {
    auto ms = d->count();
    if ((spec.min_int && ms < *spec.min_int) || (spec.max_int && ms > *spec.max_int))
      return out_of_range(format_duration(*d),
                          spec.min_int ? format_duration(std::chrono::milliseconds(*spec.min_int)) : any_low,
                          spec.max_int ? format_duration(std::chrono::milliseconds(*spec.max_int)) : any_high);
  }
  if (spec.type == ValueType::enumeration) {
    const auto* s = std::get_if<std::string>(&value);
    bool ok = false;
    for (const auto& allowed : spec.allowed) ok = ok || (s && *s == allowed);
    if (!ok) return std::string("value is not one of the allowed values");
  }
  return std::nullopt;
}

std::string format_value(const Value& value) {
  struct Visitor {
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double r) const { return format_real(r); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::chrono::milliseconds d) const { return format_duration(d); }
    std::string operator()(const HostPort& hp) const { return hp.to_string(); }
    std::string operator()(const std::vector<std::string>& list) const {
      std::string out;
      for (const auto& item : list) out += (out.empty() ? "" : ",") + item;
      return out;
    }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace pimap::kit
