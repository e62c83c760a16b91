#pragma once
// A value or an error message, for the store-watcher's own interfaces (IMAP view, Redis state).

#include <optional>
#include <string>
#include <utility>

namespace pimap::store_watcher {

template <class T>
struct Outcome {
  std::optional<T> value;
  std::string error;  // set iff !value

  static Outcome success(T v) { return Outcome{std::move(v), {}}; }
  static Outcome failure(std::string why) { return Outcome{std::nullopt, std::move(why)}; }
  bool ok() const { return value.has_value(); }
};

}  // namespace pimap::store_watcher
