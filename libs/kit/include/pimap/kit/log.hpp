#pragma once
// Structured logs: one JSON object per line on stderr.
//
//   {"ts":"2025-01-31T12:00:00.123Z","level":"info","svc":"edge","msg":"device attached","device_conn":42}
//
// `ts` is UTC RFC 3339 with milliseconds. Field values are JSON strings, numbers or booleans; strings
// are escaped (control characters, quotes, invalid UTF-8 -> U+FFFD) so every line parses. A field named
// like one of ts/level/svc/msg is written as "field_<name>" so the four fixed keys stay unique.
//
// Credentials never reach a line (see redaction.hpp): fields whose key looks like a credential are
// written as "***", and literal secret values registered with redact_value() are scrubbed from the
// message and from every string field.
//
// Cost when a level is off: one relaxed atomic load; fields are views built on the caller's stack, so
// nothing is allocated or formatted. Guard a field that is itself expensive to compute with enabled().
//
//   Logger log("edge", Level::info);
//   log.info("store connected", {{"address", addr}, {"ms", elapsed.count()}});
//   Logger conn = log.with({{"conn", id}});   // every line from `conn` carries "conn"
//
// Thread safe: each line is formatted separately and written with one write(2) under a lock, so
// lines from different threads never interleave.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace pimap::kit {

enum class Level : std::uint8_t { debug = 0, info = 1, warn = 2, error = 3 };

std::string_view level_name(Level level);                    // "debug", "info", "warn", "error"
std::optional<Level> parse_level(std::string_view text);     // inverse of level_name

// A value that is always written as "***", whatever its key: for a credential under an innocent name.
struct Redacted {};

class Field {
 public:
  Field(std::string_view key, std::string_view value) : key_(key), kind_(Kind::text), text_(value) {}
  Field(std::string_view key, const char* value) : Field(key, std::string_view(value ? value : "")) {}
  Field(std::string_view key, const std::string& value) : Field(key, std::string_view(value)) {}
  Field(std::string_view key, bool value) : key_(key), kind_(Kind::boolean), bool_(value) {}
  Field(std::string_view key, double value) : key_(key), kind_(Kind::real), real_(value) {}
  Field(std::string_view key, Redacted) : key_(key), kind_(Kind::redacted) {}
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && std::is_signed_v<T>)
  Field(std::string_view key, T value) : key_(key), kind_(Kind::signed_int), int_(value) {}
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && std::is_unsigned_v<T>)
  Field(std::string_view key, T value) : key_(key), kind_(Kind::unsigned_int), uint_(value) {}

  enum class Kind { text, signed_int, unsigned_int, real, boolean, redacted };
  std::string_view key() const { return key_; }
  Kind kind() const { return kind_; }
  std::string_view text() const { return text_; }
  std::int64_t signed_int() const { return int_; }
  std::uint64_t unsigned_int() const { return uint_; }
  double real() const { return real_; }
  bool boolean() const { return bool_; }

 private:
  std::string_view key_;
  Kind kind_;
  std::string_view text_;
  union {
    std::int64_t int_;
    std::uint64_t uint_ = 0;
    double real_;
    bool bool_;
  };
};

using Fields = std::initializer_list<Field>;

class Logger {
 public:
  // Receives each finished line, newline included. The default writes to file descriptor 2.
  using Sink = std::function<void(std::string_view line)>;
  static Sink stderr_sink();

  explicit Logger(std::string svc, Level min_level = Level::info, Sink sink = stderr_sink());

  bool enabled(Level level) const noexcept;
  // Shared with every logger made by with(): the level is a property of the process's log, not a line.
  void set_level(Level level) noexcept;

  void log(Level level, std::string_view msg, Fields fields = {}) const noexcept;
  void debug(std::string_view msg, Fields fields = {}) const noexcept { log(Level::debug, msg, fields); }
  void info(std::string_view msg, Fields fields = {}) const noexcept { log(Level::info, msg, fields); }
  void warn(std::string_view msg, Fields fields = {}) const noexcept { log(Level::warn, msg, fields); }
  void error(std::string_view msg, Fields fields = {}) const noexcept { log(Level::error, msg, fields); }

  // A logger writing to the same sink that adds `fields` to each of its lines.
  Logger with(Fields fields) const;

  // Scrubs this literal from every later line of this logger and all loggers sharing its sink
  // (config secrets are registered at start). Values shorter than 4 bytes are ignored: scrubbing
  // them would mangle ordinary text while protecting nothing.
  void redact_value(std::string secret);

  const std::string& service() const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;
  std::string bound_;  // pre-rendered `,"key":value` pairs from with()
};

}  // namespace pimap::kit
