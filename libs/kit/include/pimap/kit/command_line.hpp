#pragma once
// The command line every pimap service accepts:
//
//   pimap-<svc> [--config FILE.yaml] [--key.path=value ...] [--help] [--print-config]
//
// A bare `--key.path` sets a bool key to true. The parser knows nothing about the schema; whether a
// flag names a real key is load_config's business, so the "unknown key" message is the same for
// every source.

#include <filesystem>
#include <optional>
#include <vector>

#include "pimap/kit/config.hpp"

namespace pimap::kit {

struct CommandLine {
  std::optional<std::filesystem::path> config_file;
  std::vector<Flag> flags;
  bool help = false;
  bool print_config = false;
};

// Throws ConfigError for positional arguments, single-dash options or `--config` without a file.
CommandLine parse_command_line(int argc, const char* const* argv);

}  // namespace pimap::kit
