#pragma once
// Errors as values. librdkafka never throws and neither does this wrapper: a broker that is down, a
// full local queue or a bad property comes back as an Error the caller can log, count and retry.

#include <string>
#include <utility>
#include <variant>

namespace pimap::kafka {

enum class ErrorKind {
  none,         // success
  config,       // a property was unknown or had an invalid value (fix the configuration)
  timed_out,    // nothing within the time the caller allowed (message.timeout.ms for deliveries)
  queue_full,   // the local producer queue is full: back off, the broker is slow or unreachable
  unavailable,  // no broker reachable / transport failure; librdkafka keeps retrying on its own
  broker,       // any other error the broker or librdkafka reported
  fatal,        // the idempotent producer lost its guarantees; recreate the client (or restart)
  purged,       // the message was dropped because the client shut down before delivery
  closed,       // the client was already closed
};

struct Error {
  ErrorKind kind = ErrorKind::none;
  int rdkafka_code = 0;  // RdKafka::ErrorCode, 0 when the error did not come from librdkafka
  std::string message;   // human readable, includes librdkafka's error name when there is one

  [[nodiscard]] bool ok() const noexcept { return kind == ErrorKind::none; }
  // Worth retrying later without changing anything (broker down, queue full, timeout).
  [[nodiscard]] bool retriable() const noexcept {
    return kind == ErrorKind::timed_out || kind == ErrorKind::queue_full ||
           kind == ErrorKind::unavailable;
  }
  static Error make(ErrorKind k, std::string msg) { return Error{k, 0, std::move(msg)}; }
};

// Maps an RdKafka::ErrorCode to an Error, prefixing `context` (what was being attempted).
Error from_rdkafka(int code, const std::string& context);

const char* to_string(ErrorKind k) noexcept;

// Either a value or an Error (std::expected is C++23).
template <class T>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace pimap::kafka
