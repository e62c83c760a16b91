#include "pimap/kit/config_schema.hpp"

#include <stdexcept>

#include "pimap/kit/config_value.hpp"

namespace pimap::kit {
namespace {

[[noreturn]] void schema_error(const std::string& path, const std::string& what) {
  throw std::logic_error("config schema: key '" + path + "': " + what);
}

bool valid_path(std::string_view path) {
  if (path.empty() || path.front() == '.' || path.back() == '.') return false;
  char prev = 0;
  for (char c : path) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

}  // namespace

std::string_view type_name(ValueType type) {
  switch (type) {
    case ValueType::string: return "string";
    case ValueType::integer: return "int";
    case ValueType::real: return "double";
    case ValueType::boolean: return "bool";
    case ValueType::duration: return "duration";
    case ValueType::host_port: return "host:port";
    case ValueType::enumeration: return "enum";
    case ValueType::string_list: return "list<string>";
  }
  return "?";
}

std::string env_name_for(std::string_view path) {
  std::string out = "PIMAP_";
  for (char c : path) {
    if (c == '.') out += '_';
    else if (c >= 'a' && c <= 'z') out += static_cast<char>(c - 'a' + 'A');
    else out += c;
  }
  return out;
}

std::string KeySpec::env_name() const { return env_name_for(path); }
std::string KeySpec::file_key() const { return path + "_file"; }

// --- Schema ------------------------------------------------------------------------------------------

Schema::KeyBuilder Schema::declare(std::string path, ValueType type, std::string help) {
  if (!valid_path(path)) schema_error(path, "key paths are [a-z0-9_] words joined by '.'");
  auto taken = accepted_paths();
  std::string env = env_name_for(path);
  for (const auto& other : taken) {
    if (other == path) schema_error(path, "declared twice");
    if (env_name_for(other) == env) schema_error(path, "same environment variable " + env + " as '" + other + "'");
  }
  KeySpec spec;
  spec.path = std::move(path);
  spec.type = type;
  spec.help = std::move(help);
  keys_.push_back(std::move(spec));
  return KeyBuilder(*this, keys_.size() - 1);
}

Schema::KeyBuilder Schema::string(std::string path, std::string help) {
  return declare(std::move(path), ValueType::string, std::move(help));
}
Schema::KeyBuilder Schema::integer(std::string path, std::string help) {
  return declare(std::move(path), ValueType::integer, std::move(help));
}
Schema::KeyBuilder Schema::real(std::string path, std::string help) {
  return declare(std::move(path), ValueType::real, std::move(help));
}
Schema::KeyBuilder Schema::boolean(std::string path, std::string help) {
  return declare(std::move(path), ValueType::boolean, std::move(help));
}
Schema::KeyBuilder Schema::duration(std::string path, std::string help) {
  return declare(std::move(path), ValueType::duration, std::move(help));
}
Schema::KeyBuilder Schema::host_port(std::string path, std::string help) {
  return declare(std::move(path), ValueType::host_port, std::move(help));
}
Schema::KeyBuilder Schema::enumeration(std::string path, std::vector<std::string> allowed, std::string help) {
  if (allowed.empty()) schema_error(path, "an enum needs at least one value");
  auto b = declare(std::move(path), ValueType::enumeration, std::move(help));
  b.spec().allowed = std::move(allowed);
  return b;
}
Schema::KeyBuilder Schema::string_list(std::string path, std::string help) {
  return declare(std::move(path), ValueType::string_list, std::move(help));
}

const KeySpec* Schema::find(std::string_view path) const {
  for (const auto& k : keys_)
    if (k.path == path) return &k;
  return nullptr;
}

const KeySpec* Schema::find_by_file_key(std::string_view file_key) const {
  for (const auto& k : keys_)
    if (k.secret && k.file_key() == file_key) return &k;
  return nullptr;
}

std::vector<std::string> Schema::accepted_paths() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) {
    out.push_back(k.path);
    if (k.secret) out.push_back(k.file_key());
  }
  return out;
}

// --- KeyBuilder --------------------------------------------------------------------------------------

KeySpec& Schema::KeyBuilder::spec() { return schema_->keys_.at(index_); }

Schema::KeyBuilder& Schema::KeyBuilder::set_default(Value value) {
  auto& s = spec();
  if (auto problem = check_value(s, value)) schema_error(s.path, "default: " + *problem);
  s.default_value = std::move(value);
  s.presence = Presence::defaulted;
  return *this;
}

Schema::KeyBuilder& Schema::KeyBuilder::def(std::string_view text) {
  auto parsed = parse_value(spec(), text);
  if (auto* problem = std::get_if<std::string>(&parsed)) schema_error(spec().path, "default: " + *problem);
  return set_default(std::get<Value>(std::move(parsed)));
}

Schema::KeyBuilder& Schema::KeyBuilder::def(bool value) {
  if (spec().type != ValueType::boolean) schema_error(spec().path, "bool default for a non-bool key");
  return set_default(value);
}

Schema::KeyBuilder& Schema::KeyBuilder::def(double value) {
  if (spec().type != ValueType::real) schema_error(spec().path, "double default for a non-double key");
  return set_default(value);
}

Schema::KeyBuilder& Schema::KeyBuilder::def_int(std::int64_t value) {
  if (spec().type == ValueType::real) return set_default(static_cast<double>(value));
  if (spec().type != ValueType::integer) schema_error(spec().path, "integer default for a non-int key");
  return set_default(value);
}

Schema::KeyBuilder& Schema::KeyBuilder::def_duration(std::chrono::milliseconds value) {
  if (spec().type != ValueType::duration) schema_error(spec().path, "duration default for a non-duration key");
  return set_default(value);
}

Schema::KeyBuilder& Schema::KeyBuilder::def(std::initializer_list<std::string> list) {
  if (spec().type != ValueType::string_list) schema_error(spec().path, "list default for a non-list key");
  return set_default(std::vector<std::string>(list));
}

Schema::KeyBuilder& Schema::KeyBuilder::optional() {
  if (spec().default_value) schema_error(spec().path, "optional() and def() exclude each other");
  spec().presence = Presence::optional;
  return *this;
}

Schema::KeyBuilder& Schema::KeyBuilder::secret() {
  auto& s = spec();
  std::string file_key = s.file_key();
  for (const auto& other : schema_->accepted_paths()) {
    if (other == file_key || env_name_for(other) == env_name_for(file_key))
      schema_error(s.path, "its secret file key '" + file_key + "' collides with '" + other + "'");
  }
  s.secret = true;
  return *this;
}

Schema::KeyBuilder& Schema::KeyBuilder::range_int(std::int64_t min, std::int64_t max) {
  auto& s = spec();
  if (s.type == ValueType::real) return range(static_cast<double>(min), static_cast<double>(max));
  if (s.type != ValueType::integer) schema_error(s.path, "integer range on a non-int key");
  if (min > max) schema_error(s.path, "range min > max");
  s.min_int = min;
  s.max_int = max;
  if (s.default_value) set_default(*s.default_value);
  return *this;
}

Schema::KeyBuilder& Schema::KeyBuilder::range(double min, double max) {
  auto& s = spec();
  if (s.type != ValueType::real) schema_error(s.path, "double range on a non-double key");
  if (min > max) schema_error(s.path, "range min > max");
  s.min_real = min;
  s.max_real = max;
  if (s.default_value) set_default(*s.default_value);
  return *this;
}

Schema::KeyBuilder& Schema::KeyBuilder::range_duration(std::chrono::milliseconds min,
                                                       std::chrono::milliseconds max) {
  auto& s = spec();
  if (s.type != ValueType::duration) schema_error(s.path, "duration range on a non-duration key");
  if (min > max) schema_error(s.path, "range min > max");
  s.min_int = min.count();
  s.max_int = max.count();
  if (s.default_value) set_default(*s.default_value);
  return *this;
}

}  // namespace pimap::kit
