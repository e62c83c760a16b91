#include "pimap/kit/startup.hpp"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "test_support.hpp"

namespace pimap::kit {
namespace {

using ::testing::HasSubstr;

struct Run {
  Startup startup;
  std::string out;
  std::vector<std::string> log_lines;
};

Run start(std::vector<const char*> args, std::map<std::string, std::string> env = {}) {
  Schema schema;
  schema.string("demo.token", "").secret().optional();
  declare_standard_keys(schema);
  args.insert(args.begin(), "pimap-demo");
  Run run;
  std::ostringstream out;
  Logger errors("demo", Level::info, [&run](std::string_view line) { run.log_lines.emplace_back(line); });
  run.startup = parse_startup("pimap-demo", static_cast<int>(args.size()), args.data(), schema,
                              test::fake_env(std::move(env)), out, errors);
  run.out = out.str();
  return run;
}

TEST(Startup, BadKeyExitsTwoWithAJsonErrorNamingIt) {
  auto run = start({"--admin.lisen=127.0.0.1:1"});
  EXPECT_FALSE(run.startup.config);
  EXPECT_EQ(run.startup.exit_code, 2);
  ASSERT_GE(run.log_lines.size(), 1u);
  auto first = boost::json::parse(run.log_lines.front()).as_object();
  EXPECT_EQ(first.at("level").as_string(), "error");
  EXPECT_THAT(std::string(first.at("msg").as_string()),
              HasSubstr("config: unknown key 'admin.lisen' (did you mean 'admin.listen'?)"));
}

TEST(Startup, HelpAndPrintConfigExitZeroWithoutStarting) {
  auto help = start({"--help"});
  EXPECT_FALSE(help.startup.config);
  EXPECT_EQ(help.startup.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("PIMAP_SHUTDOWN_DRAIN_SECONDS"));

  auto print = start({"--print-config", "--log.level=debug"}, {{"PIMAP_DEMO_TOKEN", "tok-12345"}});
  EXPECT_FALSE(print.startup.config);
  EXPECT_EQ(print.startup.exit_code, 0);
  EXPECT_THAT(print.out, HasSubstr("log.level: \"debug\"  # flag --log.level"));
  EXPECT_THAT(print.out, HasSubstr("demo.token: \"***\""));
  EXPECT_EQ(print.out.find("tok-12345"), std::string::npos);
}

TEST(Startup, GoodConfigurationContinues) {
  auto run = start({"--runtime.worker_threads=3"});
  ASSERT_TRUE(run.startup.config);
  EXPECT_EQ(run.startup.config->integer("runtime.worker_threads"), 3);
  EXPECT_TRUE(run.log_lines.empty());
}

}  // namespace
}  // namespace pimap::kit
