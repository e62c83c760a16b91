#pragma once
// One real redis-server per test binary; every test gets its own key prefix so tests never see
// each other's keys.

#include <pimap/redis/pool.hpp>
#include <pimap/redis/testing/redis_server.hpp>
#include <pimap/sessionstore/keys.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

namespace pimap::sessionstore::test {

inline redis::testing::RedisServer& server() {
  static redis::testing::RedisServer s;
  if (!s.running()) s.start();
  return s;
}

class StoreTest : public ::testing::Test {
 protected:
  StoreTest()
      : pool(server().options(), 4),
        keys("t" + std::to_string(++counter()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()) {}

  redis::Reply raw(std::initializer_list<std::string_view> args) {
    auto r = pool.command(args);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : redis::Reply{};
  }
  long long pttl(const std::string& key) { return raw({"PTTL", key}).integer(); }
  bool exists(const std::string& key) { return raw({"EXISTS", key}).integer() == 1; }

  static std::atomic<int>& counter() {
    static std::atomic<int> c{0};
    return c;
  }

  redis::Pool pool;
  Keys keys;
  DeviceKey phone{"user01@example.test", "Pphone-1"};
};

}  // namespace pimap::sessionstore::test
