#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pimap/kit/config.hpp"
#include "pimap/kit/startup.hpp"
#include "test_support.hpp"

namespace pimap::kit {
namespace {

using namespace std::chrono_literals;
using test::fake_env;
using test::TempFile;
using ::testing::HasSubstr;

Schema demo_schema() {
  Schema s;
  declare_standard_keys(s);
  s.integer("store.port", "").def(143).range(1, 65535);
  s.string("store.host", "").def("127.0.0.1");
  s.string("store.master_password", "").secret();
  s.string_list("kafka.brokers", "").def({"127.0.0.1:9092"});
  s.boolean("edge.compress", "").def(false);
  s.string("edge.banner", "").optional();
  return s;
}

// The message of the one problem a load reports (fails the test if it loads or reports several).
std::string only_problem(const Schema& schema, const ConfigSources& sources) {
  try {
    load_config(schema, sources);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.problems().size(), 1u) << e.what();
    return e.problems().front();
  }
  ADD_FAILURE() << "configuration was accepted";
  return "";
}

ConfigSources with_password(ConfigSources s) {
  auto env = s.env;
  s.env = [env](const std::string& name) -> std::optional<std::string> {
    if (name == "PIMAP_STORE_MASTER_PASSWORD") return "pw-from-env";
    return env ? env(name) : std::nullopt;
  };
  return s;
}

TEST(ConfigLoad, DefaultsApplyWhenNothingIsSet) {
  auto cfg = load_config(demo_schema(), with_password({{}, {}, fake_env({})}));
  EXPECT_EQ(cfg.host_port("admin.listen").to_string(), "127.0.0.1:9090");
  EXPECT_EQ(cfg.string("log.level"), "info");
  EXPECT_EQ(cfg.duration("shutdown.drain_seconds"), 25s);
  EXPECT_EQ(cfg.integer("store.port"), 143);
  EXPECT_EQ(cfg.list("kafka.brokers"), std::vector<std::string>{"127.0.0.1:9092"});
  EXPECT_EQ(cfg.origin("store.port").source, Source::default_value);
  EXPECT_FALSE(cfg.has("edge.banner"));
  EXPECT_THROW(cfg.string("edge.banner"), std::logic_error);
  EXPECT_THROW(cfg.integer("store.host"), std::logic_error);
  EXPECT_THROW(cfg.string("no.such_key"), std::logic_error);
}

TEST(ConfigLoad, FileAcceptsNestedAndDottedKeysAndSequences) {
  TempFile file(
      "admin:\n  listen: 127.0.0.1:9191\n"
      "store.port: 993\n"
      "kafka:\n  brokers: [\"a:1\", \"b:2\"]\n"
      "edge: {compress: yes}\n");
  auto cfg = load_config(demo_schema(), with_password({file.path(), {}, fake_env({})}));
  EXPECT_EQ(cfg.host_port("admin.listen").port, 9191);
  EXPECT_EQ(cfg.integer("store.port"), 993);
  EXPECT_EQ(cfg.list("kafka.brokers"), (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_TRUE(cfg.boolean("edge.compress"));
  EXPECT_EQ(cfg.origin("store.port").source, Source::file);
  EXPECT_THAT(cfg.origin("store.port").where, HasSubstr("config.yaml:3"));  // file and line
}

TEST(ConfigLoad, PrecedenceIsFlagOverEnvOverFileOverDefault) {
  TempFile file("store:\n  port: 1001\n  host: file-host\nlog:\n  level: warn\n");
  auto env = fake_env({{"PIMAP_STORE_PORT", "1002"}, {"PIMAP_STORE_HOST", "env-host"}});
  std::vector<Flag> flags{{"store.port", "1003"}};
  auto cfg = load_config(demo_schema(), with_password({file.path(), flags, env}));
  EXPECT_EQ(cfg.integer("store.port"), 1003);  // flag beats env and file
  EXPECT_EQ(cfg.origin("store.port").source, Source::flag);
  EXPECT_EQ(cfg.string("store.host"), "env-host");  // env beats file
  EXPECT_EQ(cfg.origin("store.host").where, "PIMAP_STORE_HOST");
  EXPECT_EQ(cfg.string("log.level"), "warn");  // file beats default
  EXPECT_EQ(cfg.integer("runtime.worker_threads"), 2);

  std::vector<Flag> twice{{"store.port", "1"}, {"store.port", "2"}};
  EXPECT_EQ(load_config(demo_schema(), with_password({{}, twice, fake_env({})})).integer("store.port"), 2);
}

TEST(ConfigLoad, UnknownKeyInFileIsNamedWithSuggestionAndLine) {
  TempFile file("admin:\n  lisen: 127.0.0.1:9090\n");
  auto msg = only_problem(demo_schema(), with_password({file.path(), {}, fake_env({})}));
  EXPECT_THAT(msg, HasSubstr("config: unknown key 'admin.lisen' (did you mean 'admin.listen'?)"));
  EXPECT_THAT(msg, HasSubstr(file.path().string() + ":2"));
}

TEST(ConfigLoad, UnknownKeyAsFlagIsNamedWithSuggestion) {
  std::vector<Flag> flags{{"store.prot", "1"}};
  auto msg = only_problem(demo_schema(), with_password({{}, flags, fake_env({})}));
  EXPECT_THAT(msg, HasSubstr("unknown key 'store.prot' (did you mean 'store.port'?)"));
  EXPECT_THAT(msg, HasSubstr("flag --store.prot"));
}

TEST(ConfigLoad, UnknownKeyAtWrongNestingSuggestsTheFullPath) {
  TempFile file("listen: 127.0.0.1:9090\n");
  auto msg = only_problem(demo_schema(), with_password({file.path(), {}, fake_env({})}));
  EXPECT_THAT(msg, HasSubstr("unknown key 'listen' (did you mean 'admin.listen'?)"));
}

TEST(ConfigLoad, TypeErrorFromEnvNamesKeyAndVariable) {
  auto msg = only_problem(demo_schema(), with_password({{}, {}, fake_env({{"PIMAP_STORE_PORT", "imap"}})}));
  EXPECT_THAT(msg, HasSubstr("key 'store.port'"));
  EXPECT_THAT(msg, HasSubstr("env PIMAP_STORE_PORT"));
  EXPECT_THAT(msg, HasSubstr("expected an integer, got 'imap'"));
}

TEST(ConfigLoad, TypeErrorInFileIsReportedEvenWhenOverridden) {
  TempFile file("edge:\n  compress: sometimes\n");
  std::vector<Flag> flags{{"edge.compress", "true"}};
  auto msg = only_problem(demo_schema(), with_password({file.path(), flags, fake_env({})}));
  EXPECT_THAT(msg, HasSubstr("key 'edge.compress'"));
  EXPECT_THAT(msg, HasSubstr("expected true or false"));
}

TEST(ConfigLoad, RangeErrorFromFlagNamesKeyAndBounds) {
  std::vector<Flag> flags{{"store.port", "70000"}};
  auto msg = only_problem(demo_schema(), with_password({{}, flags, fake_env({})}));
  EXPECT_THAT(msg, HasSubstr("key 'store.port' (flag --store.port): 70000 is out of range [1, 65535]"));
}

TEST(ConfigLoad, EnumAndDurationAndHostPortErrorsNameTheirKeys) {
  std::vector<Flag> flags{{"log.level", "verbose"}, {"shutdown.drain_seconds", "soon"}, {"admin.listen", "9090"}};
  try {
    load_config(demo_schema(), with_password({{}, flags, fake_env({})}));
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.problems().size(), 3u) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("key 'log.level' (flag --log.level): expected one of debug|info|warn|error"));
    EXPECT_THAT(e.what(), HasSubstr("key 'shutdown.drain_seconds'"));
    EXPECT_THAT(e.what(), HasSubstr("key 'admin.listen' (flag --admin.listen): expected host:port"));
  }
}

TEST(ConfigLoad, ListAsFileValueForScalarKeyIsATypeError) {
  TempFile file("store:\n  port: [1, 2]\n");
  auto msg = only_problem(demo_schema(), with_password({file.path(), {}, fake_env({})}));
  EXPECT_THAT(msg, HasSubstr("key 'store.port'"));
  EXPECT_THAT(msg, HasSubstr("got a list"));
}

TEST(ConfigLoad, MissingRequiredKeySaysHowToSetIt) {
  auto msg = only_problem(demo_schema(), {{}, {}, fake_env({})});
  EXPECT_THAT(msg, HasSubstr("key 'store.master_password' is required"));
  EXPECT_THAT(msg, HasSubstr("PIMAP_STORE_MASTER_PASSWORD"));
  EXPECT_THAT(msg, HasSubstr("store.master_password_file"));
}

TEST(ConfigLoad, SecretCanComeFromAFileNamedAtAnyLevel) {
  TempFile secret("s3cret-from-file\n", "master_password");
  auto cfg = load_config(demo_schema(),
                         {{}, {}, fake_env({{"PIMAP_STORE_MASTER_PASSWORD_FILE", secret.path().string()}})});
  EXPECT_EQ(cfg.string("store.master_password"), "s3cret-from-file");  // one trailing newline dropped
  EXPECT_EQ(cfg.origin("store.master_password").via_file, secret.path().string());

  // A direct value at a higher level beats a file at a lower one.
  std::vector<Flag> flags{{"store.master_password", "from-flag"}};
  TempFile config("store:\n  master_password_file: " + secret.path().string() + "\n");
  auto cfg2 = load_config(demo_schema(), {config.path(), flags, fake_env({})});
  EXPECT_EQ(cfg2.string("store.master_password"), "from-flag");
}

TEST(ConfigLoad, SecretSetTwiceAtOneLevelOrUnreadableIsAnError) {
  auto both = fake_env({{"PIMAP_STORE_MASTER_PASSWORD", "x"}, {"PIMAP_STORE_MASTER_PASSWORD_FILE", "/etc/hostname"}});
  EXPECT_THAT(only_problem(demo_schema(), {{}, {}, both}), HasSubstr("not both"));
  auto missing = fake_env({{"PIMAP_STORE_MASTER_PASSWORD_FILE", "/nonexistent/pw"}});
  auto msg = only_problem(demo_schema(), {{}, {}, missing});
  EXPECT_THAT(msg, HasSubstr("key 'store.master_password'"));
  EXPECT_THAT(msg, HasSubstr("/nonexistent/pw"));
}

TEST(ConfigLoad, EveryProblemIsReportedAtOnce) {
  TempFile file("admin:\n  lisen: x\nstore:\n  port: 0\n");
  try {
    load_config(demo_schema(), {file.path(), {{"nope.key", "1"}}, fake_env({})});
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.problems().size(), 4u) << e.what();  // unknown x2, range, required password
  }
}

TEST(ConfigLoad, BadFilesAreReportedWithTheirPath) {
  auto msg = only_problem(demo_schema(), with_password({"/nonexistent/edge.yaml", {}, fake_env({})}));
  EXPECT_THAT(msg, HasSubstr("/nonexistent/edge.yaml"));
  TempFile broken("admin: [unclosed\n");
  EXPECT_THAT(only_problem(demo_schema(), with_password({broken.path(), {}, fake_env({})})),
              HasSubstr("invalid YAML"));
  TempFile scalar("just a string\n");
  EXPECT_THAT(only_problem(demo_schema(), with_password({scalar.path(), {}, fake_env({})})),
              HasSubstr("top level must be a mapping"));
}

TEST(ConfigLoad, BareFlagMeansTrueOnlyForBoolKeys) {
  auto cfg = load_config(demo_schema(), with_password({{}, {{"edge.compress", std::nullopt}}, fake_env({})}));
  EXPECT_TRUE(cfg.boolean("edge.compress"));
  EXPECT_THAT(only_problem(demo_schema(), with_password({{}, {{"store.port", std::nullopt}}, fake_env({})})),
              HasSubstr("needs a value"));
}

}  // namespace
}  // namespace pimap::kit
