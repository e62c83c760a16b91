#pragma once
// Errors as values. Redis going away is an ordinary, expected event for every caller, so nothing in
// libs/redis throws or aborts on it: each call returns a Result that holds either the value or an Error
// saying what went wrong and whether trying again later can help.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pimap::redis {

enum class ErrorKind {
  unavailable,     // not connected and the reconnect backoff says "not yet", or the connect failed
  io,              // the connection broke while a command was in flight (it may or may not have run)
  timeout,         // no reply within the command timeout (the command may still run)
  protocol,        // the server sent something hiredis could not parse
  server,          // Redis answered with an error reply (-ERR, -WRONGTYPE, ...)
  pool_exhausted,  // no pooled connection became free within the wait
  unexpected,      // the reply had a shape the caller did not expect
};

const char* to_string(ErrorKind kind) noexcept;

struct Error {
  ErrorKind kind;
  std::string message;

  // Transient errors are worth a retry after a while; server/unexpected errors are bugs or bad data.
  bool transient() const noexcept {
    return kind == ErrorKind::unavailable || kind == ErrorKind::io || kind == ErrorKind::timeout ||
           kind == ErrorKind::pool_exhausted;
  }
};

// A value or an error. E is a template parameter so that layers above (sessionstore) can carry their
// own error type with the same shape.
template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit on purpose
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit on purpose

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }

  const E& error() const& { return std::get<1>(v_); }
  E&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E error) : error_(std::move(error)) {}  // NOLINT: implicit on purpose

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  const E& error() const& { return *error_; }
  E&& error() && { return std::move(*error_); }

 private:
  std::optional<E> error_;
};

}  // namespace pimap::redis
