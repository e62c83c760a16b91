#include "pimap/kit/config_print.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "pimap/kit/startup.hpp"
#include "test_support.hpp"

namespace pimap::kit {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Schema schema_with_secrets() {
  Schema s;
  declare_standard_keys(s);
  s.string("store.master_password", "Dovecot master password").secret();
  s.string("gateway.password", "SMS gateway password").secret().optional();
  s.integer("store.port", "IMAP port").def(143).range(1, 65535);
  s.string_list("kafka.brokers", "Bootstrap brokers").def({"127.0.0.1:9092"});
  s.string("edge.banner", "Greeting \"text\"").def("hello: world # not a comment");
  return s;
}

TEST(ConfigPrint, HelpListsEveryKeyWithTypeDefaultAndEnvName) {
  const Schema schema = schema_with_secrets();
  std::ostringstream out;
  print_help(out, "pimap-demo", schema);
  std::string help = out.str();
  EXPECT_THAT(help, HasSubstr("usage: pimap-demo"));
  for (const auto& key : schema.keys()) {
    EXPECT_THAT(help, HasSubstr("  " + key.path + "  (")) << key.path;
    EXPECT_THAT(help, HasSubstr(key.env_name())) << key.path;
  }
  EXPECT_THAT(help, HasSubstr("admin.listen  (host:port)\n      default: 127.0.0.1:9090\n      env: PIMAP_ADMIN_LISTEN"));
  EXPECT_THAT(help, HasSubstr("log.level  (enum(debug|info|warn|error))"));
  EXPECT_THAT(help, HasSubstr("store.port  (int in [1, 65535])\n      default: 143"));
  EXPECT_THAT(help, HasSubstr("store.master_password  (string, secret)\n      required"));
  EXPECT_THAT(help, HasSubstr("PIMAP_STORE_MASTER_PASSWORD_FILE"));
  EXPECT_THAT(help, HasSubstr("shutdown.drain_seconds  (duration in [0s, 3600s])\n      default: 25s"));
}

TEST(ConfigPrint, EffectiveConfigRedactsSecretsFromEnvAndFile) {
  test::TempFile pw_file("file-secret-value\n", "gw");
  auto env = test::fake_env({{"PIMAP_STORE_MASTER_PASSWORD", "env-secret-value"},
                             {"PIMAP_GATEWAY_PASSWORD_FILE", pw_file.path().string()}});
  auto cfg = load_config(schema_with_secrets(), {{}, {{"store.port", "993"}}, env});
  std::ostringstream out;
  print_effective_config(out, cfg);
  std::string text = out.str();
  EXPECT_THAT(text, Not(HasSubstr("env-secret-value")));
  EXPECT_THAT(text, Not(HasSubstr("file-secret-value")));
  EXPECT_THAT(text, HasSubstr("store.master_password: \"***\"  # env PIMAP_STORE_MASTER_PASSWORD"));
  EXPECT_THAT(text, HasSubstr("gateway.password: \"***\"  # env PIMAP_GATEWAY_PASSWORD_FILE -> file "));
  EXPECT_THAT(text, HasSubstr("store.port: 993  # flag --store.port"));
  EXPECT_THAT(text, HasSubstr("admin.listen: \"127.0.0.1:9090\"  # default"));
}

TEST(ConfigPrint, EffectiveConfigLoadsBackAsAFile) {
  auto env = test::fake_env({{"PIMAP_STORE_MASTER_PASSWORD", "pw"}});
  std::vector<Flag> flags{{"kafka.brokers", "a:1,b:2"}, {"shutdown.drain_seconds", "0.3"}};
  auto cfg = load_config(schema_with_secrets(), {{}, flags, env});
  std::ostringstream out;
  print_effective_config(out, cfg);
  test::TempFile printed(out.str());
  auto again = load_config(schema_with_secrets(), {printed.path(), {}, test::fake_env({})});
  EXPECT_EQ(again.list("kafka.brokers"), (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(again.duration("shutdown.drain_seconds"), std::chrono::milliseconds(300));
  EXPECT_EQ(again.string("edge.banner"), "hello: world # not a comment");
  EXPECT_EQ(again.string("store.master_password"), "***");  // redacted, by design
  EXPECT_FALSE(again.has("gateway.password"));
}

}  // namespace
}  // namespace pimap::kit
