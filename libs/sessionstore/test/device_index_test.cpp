#include <pimap/sessionstore/device_index.hpp>
#include <pimap/sessionstore/preferences.hpp>
#include <pimap/sessionstore/sessions.hpp>

#include "fixture.hpp"

#include <algorithm>

using namespace std::chrono_literals;
using namespace pimap::sessionstore;

namespace {

class DeviceIndexTest : public test::StoreTest {
 protected:
  std::vector<std::string> ids(const std::string& user) {
    auto d = index.devices(user);
    EXPECT_TRUE(d) << d.error().message;
    std::vector<std::string> out;
    if (d)
      for (const auto& e : *d) out.push_back(e.device_id);
    std::sort(out.begin(), out.end());
    return out;
  }

  Sessions sessions{pool, keys, SessionConfig{}};
  PreferenceStore prefs{pool, keys};
  DeviceIndex index{pool, keys};
  DeviceKey tablet{"user01@example.test", "Ptablet"};
  DeviceKey other_user{"user02@example.test", "Pphone-1"};
};

TEST_F(DeviceIndexTest, OpenAndPreferencesRegisterTheDevicePerUser) {
  EXPECT_TRUE(ids(phone.user).empty());
  ASSERT_TRUE(sessions.open(phone, {"edge-a", "tcp"}));
  ASSERT_TRUE(prefs.set(tablet, {{"PIMAP_OUTBAND_CHANNEL", "SMS"}}));
  ASSERT_TRUE(sessions.open(other_user, {"edge-a", "tcp"}));
  EXPECT_EQ(ids(phone.user), (std::vector<std::string>{"Pphone-1", "Ptablet"}));
  EXPECT_EQ(ids(other_user.user), (std::vector<std::string>{"Pphone-1"}));
}

TEST_F(DeviceIndexTest, CloseKeepsOnlyDevicesThatWantOutOfBandWakeUps) {
  auto a = sessions.open(phone, {"edge-a", "tcp"});
  auto b = sessions.open(tablet, {"edge-a", "tcp"});
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(prefs.set(tablet, {{"PIMAP_OUTBAND_CHANNEL", "WAP_PUSH"}}));
  ASSERT_TRUE(sessions.close(phone, a->session.id));
  ASSERT_TRUE(sessions.close(tablet, b->session.id));
  EXPECT_EQ(ids(phone.user), (std::vector<std::string>{"Ptablet"}));
}

TEST_F(DeviceIndexTest, PruneLeavesDevicesWithStateAndRemovesIdleOnes) {
  ASSERT_TRUE(sessions.open(phone, {"edge-a", "tcp"}));
  ASSERT_TRUE(prefs.set(tablet, {{"PIMAP_OUTBAND_CHANNEL", "NONE"}}));
  auto kept = index.prune_if_idle(phone);
  ASSERT_TRUE(kept);
  EXPECT_FALSE(*kept);
  auto pruned = index.prune_if_idle(tablet);
  ASSERT_TRUE(pruned);
  EXPECT_TRUE(*pruned);
  EXPECT_EQ(ids(phone.user), (std::vector<std::string>{"Pphone-1"}));

  // An expired session (its keys gone) leaves an idle entry the prune removes.
  raw({"DEL", keys.session(phone)});
  pruned = index.prune_if_idle(phone);
  ASSERT_TRUE(pruned);
  EXPECT_TRUE(*pruned);
  EXPECT_TRUE(ids(phone.user).empty());
}

TEST_F(DeviceIndexTest, RemoveIfUnchangedLosesToANewerRegistration) {
  ASSERT_TRUE(index.add(phone));
  auto before = index.devices(phone.user);
  ASSERT_TRUE(before);
  ASSERT_EQ(before->size(), 1u);
  const std::string stale = before->front().token;
  ASSERT_TRUE(index.add(phone));  // e.g. an Open between the prune's read and its delete
  auto removed = index.remove_if_unchanged(phone, stale);
  ASSERT_TRUE(removed);
  EXPECT_FALSE(*removed);
  EXPECT_EQ(ids(phone.user), (std::vector<std::string>{"Pphone-1"}));
  auto now = index.devices(phone.user);
  ASSERT_TRUE(now);
  removed = index.remove_if_unchanged(phone, now->front().token);
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  EXPECT_TRUE(ids(phone.user).empty());
}

TEST_F(DeviceIndexTest, WatchedUsersFollowTheIndex) {
  auto watched = [this] {
    auto r = raw({"SMEMBERS", keys.watched_users()});
    std::vector<std::string> out;
    for (const auto& e : r.elements()) out.emplace_back(e.str());
    std::sort(out.begin(), out.end());
    return out;
  };
  auto a = sessions.open(phone, {"edge-a", "tcp"});
  ASSERT_TRUE(a);
  ASSERT_TRUE(prefs.set(other_user, {{"PIMAP_OUTBAND_CHANNEL", "SMS"}}));
  ASSERT_TRUE(sessions.open(tablet, {"edge-a", "tcp"}));
  EXPECT_EQ(watched(), (std::vector<std::string>{phone.user, other_user.user}));
  ASSERT_TRUE(sessions.close(phone, a->session.id));
  EXPECT_EQ(watched(), (std::vector<std::string>{phone.user, other_user.user}));  // the tablet is left
  raw({"DEL", keys.session(tablet)});
  auto pruned = index.prune_if_idle(tablet);
  ASSERT_TRUE(pruned && *pruned);
  EXPECT_EQ(watched(), (std::vector<std::string>{other_user.user}));
}

}  // namespace
