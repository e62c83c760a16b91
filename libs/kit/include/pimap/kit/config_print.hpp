#pragma once
// Human-facing renderings of the configuration: --help and --print-config.

#include <ostream>
#include <string_view>

#include "pimap/kit/config.hpp"

namespace pimap::kit {

// Usage line, precedence rule, then every key (sorted) with its type, checks, default or "required",
// environment variable and help text.
void print_help(std::ostream& out, std::string_view program, const Schema& schema);

// The effective configuration as flat YAML (`key.path: value  # origin`), sorted by key, which
// load_config accepts back as a file. Secrets print as "***".
void print_effective_config(std::ostream& out, const Config& config);

}  // namespace pimap::kit
