#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config_file.hpp"
#include "did_you_mean.hpp"
#include "pimap/kit/config.hpp"
#include "pimap/kit/config_value.hpp"

namespace pimap::kit {
namespace {

// One raw setting of a key path at one precedence level.
struct Raw {
  std::optional<std::string> text;               // unset with `list`, or for a bare --flag
  std::optional<std::vector<std::string>> list;  // YAML sequence
  Origin origin;
  bool bare_flag = false;
};

std::string describe(const Origin& o) {
  switch (o.source) {
    case Source::default_value: return "default";
    case Source::file: return "file " + o.where;
    case Source::env: return "env " + o.where;
    case Source::flag: return "flag " + o.where;
  }
  return "?";
}

std::string key_problem(const std::string& path, const Origin& o, const std::string& what) {
  return "config: key '" + path + "' (" + describe(o) + "): " + what;
}

std::optional<std::string> read_secret_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read secret file '" + path + "': " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string s = content.str();
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error([&] {
        std::string all;
        for (const auto& p : problems) all += (all.empty() ? "" : "\n") + p;
        return all;
      }()),
      problems_(std::move(problems)) {}

std::string_view source_name(Source source) {
  switch (source) {
    case Source::default_value: return "default";
    case Source::file: return "file";
    case Source::env: return "env";
    case Source::flag: return "flag";
  }
  return "?";
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Config load_config(const Schema& schema, const ConfigSources& sources) {
  std::vector<std::string> problems;
  const auto accepted = schema.accepted_paths();
  auto is_accepted = [&](const std::string& path) {
    return schema.find(path) != nullptr || schema.find_by_file_key(path) != nullptr;
  };

  // Gather every level into path -> Raw maps.
  std::map<std::string, Raw> file_level, env_level, flag_level;
  if (sources.file) {
    auto read = detail::read_config_file(*sources.file, schema);
    problems.insert(problems.end(), read.problems.begin(), read.problems.end());
    for (auto& [path, setting] : read.settings) {
      Origin origin{Source::file, setting.where, {}};
      if (!is_accepted(path)) {
        std::string msg = "config: unknown key '" + path + "'";
        if (auto s = detail::did_you_mean(path, accepted)) msg += " (did you mean '" + *s + "'?)";
        problems.push_back(msg + " in " + setting.where);
        continue;
      }
      file_level[path] = Raw{setting.scalar, setting.list, origin, false};
    }
  }
  for (const auto& path : accepted) {
    std::string env = env_name_for(path);
    if (auto v = sources.env ? sources.env(env) : std::nullopt)
      env_level[path] = Raw{*v, std::nullopt, Origin{Source::env, env, {}}, false};
  }
  for (const auto& flag : sources.flags) {
    if (!is_accepted(flag.key)) {
      std::string msg = "config: unknown key '" + flag.key + "'";
      if (auto s = detail::did_you_mean(flag.key, accepted)) msg += " (did you mean '" + *s + "'?)";
      problems.push_back(msg + " in flag --" + flag.key);
      continue;
    }
    flag_level[flag.key] = Raw{flag.value, std::nullopt, Origin{Source::flag, "--" + flag.key, {}}, !flag.value};
  }

  // Parses one raw setting of `spec`; nullopt (and a problem recorded) when it is bad.
  auto parse_raw = [&](const KeySpec& spec, const Raw& raw) -> std::optional<Value> {
    if (raw.list) {
      if (spec.type != ValueType::string_list) {
        problems.push_back(key_problem(spec.path, raw.origin,
                                       "expected " + std::string(type_name(spec.type)) + ", got a list"));
        return std::nullopt;
      }
      Value v = *raw.list;
      if (auto p = check_value(spec, v)) {
        problems.push_back(key_problem(spec.path, raw.origin, *p));
        return std::nullopt;
      }
      return v;
    }
    std::string text;
    if (raw.bare_flag) {
      if (spec.type != ValueType::boolean) {
        problems.push_back(key_problem(spec.path, raw.origin, "needs a value: --" + spec.path + "=VALUE"));
        return std::nullopt;
      }
      text = "true";
    } else {
      text = raw.text.value_or("");
    }
    auto parsed = parse_value(spec, text);
    if (auto* p = std::get_if<std::string>(&parsed)) {
      problems.push_back(key_problem(spec.path, raw.origin, *p));
      return std::nullopt;
    }
    return std::get<Value>(std::move(parsed));
  };

  Config config;
  config.schema_ = schema;
  for (const auto& spec : schema.keys()) {
    // Validate the direct value at every level, so a broken file is reported even when overridden.
    std::optional<Value> per_level[3];
    std::map<std::string, Raw>* levels[3] = {&flag_level, &env_level, &file_level};
    for (int i = 0; i < 3; ++i) {
      if (auto it = levels[i]->find(spec.path); it != levels[i]->end()) per_level[i] = parse_raw(spec, it->second);
    }

    bool decided = false;
    for (int i = 0; i < 3 && !decided; ++i) {
      auto direct = levels[i]->find(spec.path);
      auto via_file = spec.secret ? levels[i]->find(spec.file_key()) : levels[i]->end();
      bool has_direct = direct != levels[i]->end();
      bool has_file = via_file != levels[i]->end();
      if (!has_direct && !has_file) continue;
      decided = true;
      if (has_direct && has_file) {
        problems.push_back(key_problem(spec.path, direct->second.origin,
                                       "set either '" + spec.path + "' or '" + spec.file_key() +
                                           "', not both"));
        break;
      }
      if (has_direct) {
        if (per_level[i]) config.entries_[spec.path] = Config::Entry{*per_level[i], direct->second.origin};
        break;
      }
      const Raw& raw = via_file->second;
      std::string path = raw.text.value_or("");
      if (raw.list || path.empty()) {
        problems.push_back(key_problem(spec.file_key(), raw.origin, "expected a file path"));
        break;
      }
      std::string error;
      auto content = read_secret_file(path, error);
      if (!content) {
        problems.push_back(key_problem(spec.path, raw.origin, error));
        break;
      }
      auto parsed = parse_value(spec, *content);
      if (auto* p = std::get_if<std::string>(&parsed)) {
        problems.push_back(key_problem(spec.path, raw.origin, "in '" + path + "': " + *p));
        break;
      }
      Origin origin = raw.origin;
      origin.via_file = path;
      config.entries_[spec.path] = Config::Entry{std::get<Value>(std::move(parsed)), origin};
    }
    if (decided) continue;
    if (spec.presence == Presence::defaulted) {
      config.entries_[spec.path] = Config::Entry{*spec.default_value, Origin{Source::default_value, "", {}}};
    } else if (spec.presence == Presence::required) {
      std::string how = "set it in the config file, as " + spec.env_name() + " or with --" + spec.path + "=VALUE";
      if (spec.secret) how += ", or name a file holding it with " + spec.file_key();
      problems.push_back("config: key '" + spec.path + "' is required: " + how);
    }
  }

  if (!problems.empty()) throw ConfigError(std::move(problems));
  return config;
}

// --- Config reads ------------------------------------------------------------------------------------

const Config::Entry& Config::entry(std::string_view key) const {
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second;
  if (!schema_.find(key)) throw std::logic_error("config: read of undeclared key '" + std::string(key) + "'");
  throw std::logic_error("config: read of unset optional key '" + std::string(key) + "' (check has() first)");
}

namespace {
template <class T>
const T& typed(const Value& v, std::string_view key, const char* want) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw std::logic_error("config: key '" + std::string(key) + "' read as " + want + " but declared otherwise");
}
}  // namespace

bool Config::has(std::string_view key) const { return entries_.find(key) != entries_.end(); }
const Value& Config::value(std::string_view key) const { return entry(key).value; }
const Origin& Config::origin(std::string_view key) const { return entry(key).origin; }
const std::string& Config::string(std::string_view key) const {
  return typed<std::string>(value(key), key, "string");
}
std::int64_t Config::integer(std::string_view key) const { return typed<std::int64_t>(value(key), key, "int"); }
double Config::real(std::string_view key) const { return typed<double>(value(key), key, "double"); }
bool Config::boolean(std::string_view key) const { return typed<bool>(value(key), key, "bool"); }
std::chrono::milliseconds Config::duration(std::string_view key) const {
  return typed<std::chrono::milliseconds>(value(key), key, "duration");
}
const HostPort& Config::host_port(std::string_view key) const {
  return typed<HostPort>(value(key), key, "host:port");
}
const std::vector<std::string>& Config::list(std::string_view key) const {
  return typed<std::vector<std::string>>(value(key), key, "list<string>");
}

}  // namespace pimap::kit
