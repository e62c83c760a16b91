#include "pimap/kit/startup.hpp"

#include "pimap/kit/command_line.hpp"
#include "pimap/kit/config_print.hpp"

namespace pimap::kit {

void declare_standard_keys(Schema& schema) {
  schema.host_port("admin.listen", "Admin HTTP server: GET /metrics, /healthz, /readyz").def("127.0.0.1:9090");
  schema.enumeration("log.level", {"debug", "info", "warn", "error"}, "Lowest level written to the log")
      .def("info");
  schema.duration("shutdown.drain_seconds", "After SIGTERM, how long in-flight work may take before exit")
      .def(std::chrono::seconds(25))
      .range(std::chrono::seconds(0), std::chrono::hours(1));
  schema.integer("runtime.worker_threads", "Threads running the service's I/O").def(2).range(1, 256);
}

Startup parse_startup(std::string_view program, int argc, const char* const* argv, const Schema& schema,
                      const EnvLookup& env, std::ostream& out, const Logger& errors) {
  try {
    CommandLine cl = parse_command_line(argc, argv);
    if (cl.help) {
      print_help(out, program, schema);
      return {std::nullopt, 0};
    }
    Config config = load_config(schema, ConfigSources{cl.config_file, cl.flags, env});
    if (cl.print_config) {
      print_effective_config(out, config);
      return {std::nullopt, 0};
    }
    return {std::move(config), 0};
  } catch (const ConfigError& e) {
    for (const auto& problem : e.problems()) errors.error(problem);
    errors.error("config: not starting; run with --help to list every key",
                 {{"problems", e.problems().size()}});
    return {std::nullopt, 2};
  }
}

}  // namespace pimap::kit
