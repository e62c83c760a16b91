#include "pimap/kit/config_schema.hpp"

#include <gtest/gtest.h>

#include "pimap/kit/config_value.hpp"

namespace pimap::kit {
namespace {

using namespace std::chrono_literals;

TEST(ConfigSchema, EnvironmentNameIsPrefixedUpperCaseWithDotsAsUnderscores) {
  EXPECT_EQ(env_name_for("a.b_c"), "PIMAP_A_B_C");
  EXPECT_EQ(env_name_for("store.master_password"), "PIMAP_STORE_MASTER_PASSWORD");
  Schema s;
  s.string("store.master_password", "").secret();
  EXPECT_EQ(s.find("store.master_password")->file_key(), "store.master_password_file");
}

TEST(ConfigSchema, RejectsBadNamesDuplicatesAndEnvCollisions) {
  Schema s;
  EXPECT_THROW(s.string("Admin.Listen", ""), std::logic_error);
  EXPECT_THROW(s.string("admin..listen", ""), std::logic_error);
  EXPECT_THROW(s.string("admin.", ""), std::logic_error);
  s.string("a.b_c", "");
  EXPECT_THROW(s.string("a.b_c", ""), std::logic_error);
  try {
    s.string("a_b.c", "");
    FAIL() << "two keys mapping to PIMAP_A_B_C were accepted";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("PIMAP_A_B_C"), std::string::npos) << e.what();
  }
}

TEST(ConfigSchema, SecretFileKeyMayNotCollideWithADeclaredKey) {
  Schema s;
  s.string("store.password_file", "");
  EXPECT_THROW(s.string("store.password", "").secret(), std::logic_error);
  Schema t;
  t.string("store.password", "").secret();
  EXPECT_THROW(t.string("store.password_file", ""), std::logic_error);
}

TEST(ConfigSchema, DefaultsAreCheckedAgainstTheKeysOwnRules) {
  Schema s;
  EXPECT_THROW(s.integer("a.port", "").def(70000).range(1, 65535), std::logic_error);
  EXPECT_THROW(s.enumeration("a.mode", {"x", "y"}, "").def("z"), std::logic_error);
  EXPECT_THROW(s.host_port("a.addr", "").def("nope"), std::logic_error);
  EXPECT_THROW(s.boolean("a.flag", "").def(3), std::logic_error);
  s.duration("a.wait", "").def(1500ms).range(1s, 2s);
  EXPECT_EQ(std::get<std::chrono::milliseconds>(*s.find("a.wait")->default_value), 1500ms);
}

TEST(ConfigSchema, PresenceIsRequiredUnlessDefaultedOrOptional) {
  Schema s;
  s.string("a.required", "");
  s.string("a.defaulted", "").def("x");
  s.string("a.optional", "").optional();
  EXPECT_EQ(s.find("a.required")->presence, Presence::required);
  EXPECT_EQ(s.find("a.defaulted")->presence, Presence::defaulted);
  EXPECT_EQ(s.find("a.optional")->presence, Presence::optional);
}

TEST(ConfigValue, ParsesEveryTypeAndFormatsItBack) {
  Schema s;
  s.duration("d", "").def(1s);
  s.host_port("h", "").def("127.0.0.1:1");
  s.string_list("l", "").def({"a"});
  s.boolean("b", "").def(false);
  s.real("r", "").def(1.0);
  auto parse = [&](const char* key, std::string_view text) { return parse_value(*s.find(key), text); };
  EXPECT_EQ(std::get<std::chrono::milliseconds>(std::get<Value>(parse("d", "0.3"))), 300ms);
  EXPECT_EQ(std::get<std::chrono::milliseconds>(std::get<Value>(parse("d", "250ms"))), 250ms);
  EXPECT_EQ(std::get<std::chrono::milliseconds>(std::get<Value>(parse("d", "2m"))), 120s);
  EXPECT_EQ(std::get<std::chrono::milliseconds>(std::get<Value>(parse("d", " 25 "))), 25s);
  EXPECT_TRUE(std::holds_alternative<std::string>(parse("d", "-1")));
  EXPECT_TRUE(std::holds_alternative<std::string>(parse("d", "5 parsecs")));
  EXPECT_EQ(format_value(std::get<Value>(parse("d", "0.3"))), "0.3s");
  EXPECT_EQ(format_value(std::get<Value>(parse("d", "25"))), "25s");

  auto hp = std::get<HostPort>(std::get<Value>(parse("h", "[::1]:9090")));
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 9090);
  EXPECT_EQ(hp.to_string(), "[::1]:9090");
  EXPECT_TRUE(std::holds_alternative<std::string>(parse("h", "localhost")));
  EXPECT_TRUE(std::holds_alternative<std::string>(parse("h", "localhost:99999")));
  EXPECT_TRUE(std::holds_alternative<std::string>(parse("h", "::1:80")));

  EXPECT_EQ(std::get<std::vector<std::string>>(std::get<Value>(parse("l", "a, b,,c"))),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(std::get<bool>(std::get<Value>(parse("b", "YES"))), true);
  EXPECT_EQ(std::get<bool>(std::get<Value>(parse("b", "off"))), false);
  EXPECT_TRUE(std::holds_alternative<std::string>(parse("b", "maybe")));
  EXPECT_DOUBLE_EQ(std::get<double>(std::get<Value>(parse("r", "2.5"))), 2.5);
  EXPECT_TRUE(std::holds_alternative<std::string>(parse("r", "nan")));
}

TEST(ConfigValue, ErrorsForSecretsDoNotRepeatTheValue) {
  Schema s;
  s.integer("a.pin", "").secret().def(1);
  auto result = parse_value(*s.find("a.pin"), "hunter2");
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_EQ(std::get<std::string>(result).find("hunter2"), std::string::npos) << std::get<std::string>(result);
}

}  // namespace
}  // namespace pimap::kit
