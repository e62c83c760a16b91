#include "device_login.hpp"

#include <gtest/gtest.h>

using pimap::edge::parse_login_name;
using pimap::edge::valid_device_id;

TEST(DeviceLogin, SplitsDeviceIdBeforeDomain) {
  auto l = parse_login_name("alice#Pphone-1@example.test");
  EXPECT_EQ(l.store_user, "alice@example.test");
  EXPECT_EQ(l.device_id, "Pphone-1");
  EXPECT_TRUE(l.is_pimap());
}

TEST(DeviceLogin, SplitsOnLastHash) {
  auto l = parse_login_name("a#b#P42");
  EXPECT_EQ(l.store_user, "a#b");
  EXPECT_EQ(l.device_id, "P42");
}

TEST(DeviceLogin, PlainNameWithoutDevice) {
  auto l = parse_login_name("bob@example.test");
  EXPECT_EQ(l.store_user, "bob@example.test");
  EXPECT_FALSE(l.is_pimap());
}

TEST(DeviceLogin, HashWithoutValidDeviceIdStaysInName) {
  EXPECT_EQ(parse_login_name("team#sales").store_user, "team#sales");
  EXPECT_FALSE(parse_login_name("team#sales").is_pimap());
  EXPECT_FALSE(parse_login_name("x#P").is_pimap());            // empty id
  EXPECT_FALSE(parse_login_name("x#Pa b").is_pimap());         // space
  EXPECT_FALSE(parse_login_name("#Pabc").is_pimap());          // no user part
  EXPECT_FALSE(parse_login_name("x#P" + std::string(65, 'a')).is_pimap());  // 65 chars after P
  EXPECT_TRUE(parse_login_name("x#P" + std::string(64, 'a')).is_pimap());
}

TEST(DeviceLogin, HashInDomainIsNotADevice) {
  auto l = parse_login_name("alice@ex#Pdev");
  EXPECT_EQ(l.store_user, "alice@ex#Pdev");
  EXPECT_FALSE(l.is_pimap());
}

TEST(DeviceLogin, ValidDeviceIdCharset) {
  EXPECT_TRUE(valid_device_id("PA.b_c-9"));
  EXPECT_FALSE(valid_device_id("Qabc"));
  EXPECT_FALSE(valid_device_id("P/"));
}
