#pragma once
// Text <-> typed value for one declared key. Every source (file scalar, environment, flag, declared
// default) goes through the same parser, so "25", "true" or "127.0.0.1:9090" mean the same everywhere.

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "pimap/kit/config_schema.hpp"

namespace pimap::kit {

// Either the value or a reason that does not name the key (the caller knows where the text came from)
// and does not repeat the text when the key is a secret.
using ParseResult = std::variant<Value, std::string>;

// Parses and checks (range, enum) one textual value.
ParseResult parse_value(const KeySpec& spec, std::string_view text);

// Range and enum checks alone, for values that did not come from text (YAML sequences, defaults).
std::optional<std::string> check_value(const KeySpec& spec, const Value& value);

// Canonical text of a value, which parse_value accepts back: durations as seconds with an "s"
// ("25s", "0.3s"), lists comma-separated. Never redacts: callers decide about secrets.
std::string format_value(const Value& value);

}  // namespace pimap::kit
