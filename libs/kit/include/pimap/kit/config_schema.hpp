#pragma once
// The declared configuration of a service: every key it accepts, with type, default and checks.
//
// Declaring keys up front is what lets a service reject a typo'd or out-of-range setting at start
// (naming the key) instead of silently running with a default, and what --help prints from.
//
//   Schema schema;
//   schema.host_port("store.address", "IMAP store to proxy to").def("127.0.0.1:143");
//   schema.integer("store.max_connections", "Connections per edge").def(200).range(1, 10000);
//   schema.duration("session.idle_seconds", "Idle time before a session is parked").def(std::chrono::minutes(29));
//   schema.enumeration("store.tls", {"none", "starttls", "tls"}, "TLS to the store").def("none");
//   schema.string("store.master_password", "Dovecot master password").secret();   // required
//   schema.string_list("kafka.brokers", "Bootstrap brokers").def({"127.0.0.1:9092"});
//
// Key paths are lower-case words ([a-z0-9_]) joined by dots. A key is required unless it gets a default
// (.def) or is marked .optional(). Declaration mistakes (bad name, duplicate key, default that fails the
// key's own checks, two keys mapping to one environment variable) throw std::logic_error at once.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pimap/kit/host_port.hpp"

namespace pimap::kit {

enum class ValueType { string, integer, real, boolean, duration, host_port, enumeration, string_list };

// "string", "int", "double", "bool", "duration", "host:port", "enum", "list<string>".
std::string_view type_name(ValueType type);

// One typed value. Durations are configured in seconds but kept as milliseconds so that fractional
// seconds ("0.3") survive; enums are kept as their string.
using Value = std::variant<std::string, std::int64_t, double, bool, std::chrono::milliseconds, HostPort,
                           std::vector<std::string>>;

enum class Presence { required, defaulted, optional };

struct KeySpec {
  std::string path;
  ValueType type = ValueType::string;
  std::string help;
  Presence presence = Presence::required;
  std::optional<Value> default_value;  // set iff presence == defaulted

  // Inclusive bounds; integers use the int fields, reals the real fields, durations the int fields
  // in milliseconds.
  std::optional<std::int64_t> min_int, max_int;
  std::optional<double> min_real, max_real;
  std::vector<std::string> allowed;  // enumeration values

  // A secret is never printed or logged, and may instead be read from a file named by `<path>_file`
  // (so Kubernetes secrets can be mounted rather than put in the environment).
  bool secret = false;

  // PIMAP_ + the path upper-cased with dots turned into underscores: "a.b_c" -> "PIMAP_A_B_C".
  std::string env_name() const;
  // "<path>_file": the companion key of a secret.
  std::string file_key() const;
};

// The environment variable name for any key path (same rule as KeySpec::env_name).
std::string env_name_for(std::string_view path);

class Schema {
 public:
  // Returned by each declaration; refines the key just declared. Only valid until the next declaration.
  class KeyBuilder {
   public:
    KeyBuilder& def(std::string_view text);  // parsed exactly like a value from env or a flag
    KeyBuilder& def(const char* text) { return def(std::string_view(text)); }
    KeyBuilder& def(const std::string& text) { return def(std::string_view(text)); }
    KeyBuilder& def(bool value);
    KeyBuilder& def(double value);
    template <std::integral T>
      requires(!std::same_as<T, bool>)
    KeyBuilder& def(T value) {
      return def_int(static_cast<std::int64_t>(value));
    }
    template <class Rep, class Period>
    KeyBuilder& def(std::chrono::duration<Rep, Period> value) {
      return def_duration(std::chrono::duration_cast<std::chrono::milliseconds>(value));
    }
    KeyBuilder& def(std::initializer_list<std::string> list);

    KeyBuilder& optional();  // no value unless configured; read it behind Config::has
    KeyBuilder& secret();

    template <std::integral A, std::integral B>  // integer keys (or real keys with whole bounds)
    KeyBuilder& range(A min, B max) {
      return range_int(static_cast<std::int64_t>(min), static_cast<std::int64_t>(max));
    }
    KeyBuilder& range(double min, double max);  // real keys
    template <class R1, class P1, class R2, class P2>
    KeyBuilder& range(std::chrono::duration<R1, P1> min, std::chrono::duration<R2, P2> max) {
      return range_duration(std::chrono::duration_cast<std::chrono::milliseconds>(min),
                            std::chrono::duration_cast<std::chrono::milliseconds>(max));
    }

   private:
    friend class Schema;
    KeyBuilder(Schema& schema, std::size_t index) : schema_(&schema), index_(index) {}
    KeySpec& spec();
    KeyBuilder& def_int(std::int64_t value);
    KeyBuilder& range_int(std::int64_t min, std::int64_t max);
    KeyBuilder& def_duration(std::chrono::milliseconds value);
    KeyBuilder& range_duration(std::chrono::milliseconds min, std::chrono::milliseconds max);
    KeyBuilder& set_default(Value value);
    Schema* schema_;
    std::size_t index_;
  };

  KeyBuilder string(std::string path, std::string help);
  KeyBuilder integer(std::string path, std::string help);
  KeyBuilder real(std::string path, std::string help);
  KeyBuilder boolean(std::string path, std::string help);
  // Seconds; accepts "25", "0.5", "250ms", "30s", "5m", "1h".
  KeyBuilder duration(std::string path, std::string help);
  KeyBuilder host_port(std::string path, std::string help);
  KeyBuilder enumeration(std::string path, std::vector<std::string> allowed, std::string help);
  // A YAML sequence in the file; comma-separated in the environment and on the command line.
  KeyBuilder string_list(std::string path, std::string help);

  const KeySpec* find(std::string_view path) const;
  // The secret whose companion `<path>_file` key this is, if any.
  const KeySpec* find_by_file_key(std::string_view file_key) const;
  const std::vector<KeySpec>& keys() const { return keys_; }
  // Every key path a source may set: the declared keys plus the `_file` companions of secrets.
  std::vector<std::string> accepted_paths() const;

 private:
  KeyBuilder declare(std::string path, ValueType type, std::string help);
  std::vector<KeySpec> keys_;
};

}  // namespace pimap::kit
