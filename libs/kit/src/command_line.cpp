#include "pimap/kit/command_line.hpp"

#include <string>
#include <string_view>

namespace pimap::kit {

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine cl;
  std::vector<std::string> problems;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i] ? argv[i] : "";
    if (arg == "--help" || arg == "-h") {
      cl.help = true;
    } else if (arg == "--print-config") {
      cl.print_config = true;
    } else if (arg == "--config") {
      if (i + 1 >= argc) problems.push_back("config: --config needs a file: --config FILE.yaml");
      else cl.config_file = argv[++i];
    } else if (arg.starts_with("--config=")) {
      cl.config_file = std::string(arg.substr(9));
    } else if (arg.starts_with("--") && arg.size() > 2 && arg[2] != '=') {
      auto body = arg.substr(2);
      auto eq = body.find('=');
      if (eq == std::string_view::npos) cl.flags.push_back(Flag{std::string(body), std::nullopt});
      else cl.flags.push_back(Flag{std::string(body.substr(0, eq)), std::string(body.substr(eq + 1))});
    } else {
      problems.push_back("config: unexpected argument '" + std::string(arg) +
                         "' (settings are --key.path=value; see --help)");
    }
  }
  if (cl.config_file && cl.config_file->empty()) problems.push_back("config: --config needs a file");
  if (!problems.empty()) throw ConfigError(std::move(problems));
  return cl;
}

}  // namespace pimap::kit
