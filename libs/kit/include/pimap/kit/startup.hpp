#pragma once
// The standard start sequence, before anything runs: parse argv, load and validate the configuration,
// answer --help / --print-config. Kept free of process exits so it can be tested; Service turns the
// outcome into an exit.
//
// Keys every service has (declared by declare_standard_keys, so a service cannot forget them):
//   admin.listen            host:port  127.0.0.1:9090  GET /metrics, /healthz, /readyz
//   log.level               enum       info            debug|info|warn|error
//   shutdown.drain_seconds  duration   25              how long in-flight work may take after SIGTERM
//   runtime.worker_threads  int        2               threads running the service's io_context

#include <optional>
#include <ostream>
#include <string_view>

#include "pimap/kit/config.hpp"
#include "pimap/kit/log.hpp"

namespace pimap::kit {

void declare_standard_keys(Schema& schema);

struct Startup {
  std::optional<Config> config;  // set: go on running
  int exit_code = 0;             // otherwise exit with this: 0 after --help/--print-config, 2 on bad config
};

// `program` is the name shown in --help ("pimap-edge"). Help and the effective config go to `out`;
// configuration problems go to `errors` as JSON error lines (one per problem), so even a failed start
// keeps stderr machine-readable.
Startup parse_startup(std::string_view program, int argc, const char* const* argv, const Schema& schema,
                      const EnvLookup& env, std::ostream& out, const Logger& errors);

}  // namespace pimap::kit
