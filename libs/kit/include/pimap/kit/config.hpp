#pragma once
// The effective configuration of a running service, and how it is assembled from its sources.
//
// Precedence, per key: command-line flag > environment > YAML file > declared default. The environment
// variable for key `a.b_c` is PIMAP_A_B_C; lookup always goes from declared key to variable name, so no
// variable is ever guessed back into a key. A secret `k` may instead be given as `k_file` (a path whose
// contents, minus one trailing newline, are the value) at any level; setting both `k` and `k_file` at
// the same level is an error.
//
// Every problem is reported, not just the first: unknown keys (with a did-you-mean), wrong types,
// out-of-range values, missing required keys. Each message names the key and where the value came from.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pimap/kit/config_schema.hpp"

namespace pimap::kit {

// One problem per line, each starting "config: ".
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

enum class Source { default_value, file, env, flag };
std::string_view source_name(Source source);  // "default", "file", "env", "flag"

// Where a value came from, for --print-config and error messages: e.g. {env, "PIMAP_LOG_LEVEL"},
// {file, "/etc/pimap/edge.yaml"}, {flag, "--log.level"}; `via_file` is the path a secret was read from.
struct Origin {
  Source source = Source::default_value;
  std::string where;
  std::string via_file;
};

// Looks up one environment variable; injectable so tests need not touch the real environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

struct Flag {
  std::string key;                   // "admin.listen"
  std::optional<std::string> value;  // nullopt for a bare --key (means "true" for a bool key)
};

struct ConfigSources {
  std::optional<std::filesystem::path> file;
  std::vector<Flag> flags;  // in command-line order; a later flag for the same key wins
  EnvLookup env = process_environment();
};

class Config {
 public:
  // Typed reads. Reading an undeclared key, with the wrong type, or an unset optional key is a
  // programming error and throws std::logic_error.
  bool has(std::string_view key) const;
  const std::string& string(std::string_view key) const;  // string and enum keys
  std::int64_t integer(std::string_view key) const;
  double real(std::string_view key) const;
  bool boolean(std::string_view key) const;
  std::chrono::milliseconds duration(std::string_view key) const;
  const HostPort& host_port(std::string_view key) const;
  const std::vector<std::string>& list(std::string_view key) const;

  const Origin& origin(std::string_view key) const;
  const Value& value(std::string_view key) const;
  const Schema& schema() const { return schema_; }

 private:
  friend Config load_config(const Schema& schema, const ConfigSources& sources);
  struct Entry {
    Value value;
    Origin origin;
  };
  const Entry& entry(std::string_view key) const;
  Schema schema_;
  std::map<std::string, Entry, std::less<>> entries_;
};

// Reads the file (if any), the environment and the flags, validates everything against the schema and
// returns the effective configuration, or throws ConfigError listing every problem found.
Config load_config(const Schema& schema, const ConfigSources& sources);

}  // namespace pimap::kit
