// MailboxView: the device's UIDs as ranges, and the EXPUNGE/VANISHED/EXISTS lines that move a device
// from its view to the store's without breaking a sequence number.

#include "pimap/deviceview/mailbox_view.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace pimap::deviceview {
namespace {

using Lines = std::vector<std::string>;

MailboxView view_of(std::string_view set) { return MailboxView::from_set(imap::NumberSet(set)); }

// Applies the reconciliation lines to a plain vector model of the device's mailbox, the way a client
// does: EXPUNGE n removes the n-th message; VANISHED removes by UID; EXISTS appends unknown messages.
// Returns the device's sequence -> UID map afterwards (0 for a message it knows only by count).
std::vector<std::uint32_t> apply(std::vector<std::uint32_t> device, const Lines& lines) {
  for (const auto& l : lines) {
    if (l.ends_with(" EXPUNGE\r\n")) {
      const auto n = std::stoul(l.substr(2));
      EXPECT_GE(n, 1u);
      EXPECT_LE(n, device.size());
      device.erase(device.begin() + static_cast<std::ptrdiff_t>(n - 1));
    } else if (l.starts_with("* VANISHED ")) {
      const MailboxView gone = view_of(l.substr(11, l.size() - 13));
      std::erase_if(device, [&](std::uint32_t u) { return gone.contains(u); });
    } else if (l.ends_with(" EXISTS\r\n")) {
      const auto n = std::stoul(l.substr(2));
      EXPECT_GE(n, device.size());
      device.resize(n, 0);
    } else {
      ADD_FAILURE() << "unexpected line " << l;
    }
  }
  return device;
}

std::vector<std::uint32_t> uids(const MailboxView& v) {
  std::vector<std::uint32_t> out;
  for (const auto& r : v.ranges()) {
    for (std::uint64_t u = r.first; u <= r.last; ++u) out.push_back(static_cast<std::uint32_t>(u));
  }
  return out;
}

// After the lines, every message the device still knows must sit at the store's sequence number.
void expect_consistent(const MailboxView& device, const MailboxView& store, const Lines& lines) {
  const auto after = apply(uids(device), lines);
  const auto truth = uids(store);
  ASSERT_EQ(after.size(), truth.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    if (after[i] != 0) {
      EXPECT_EQ(after[i], truth[i]) << "sequence " << i + 1;
    }
  }
}

TEST(MailboxView, AddMergesAdjacentAndOverlappingRanges) {
  MailboxView v;
  v.add(5);
  v.add(7);
  v.add(3);
  EXPECT_EQ(v.to_string(), "3,5,7");
  v.add(6);
  EXPECT_EQ(v.to_string(), "3,5:7");
  v.add(4);
  EXPECT_EQ(v.to_string(), "3:7");
  v.add_range(10, 12);
  v.add_range(8, 9);
  EXPECT_EQ(v.to_string(), "3:12");
  v.add_range(20, 15);  // high:low as IMAP allows
  EXPECT_EQ(v.to_string(), "3:12,15:20");
  v.add(4);  // already there
  EXPECT_EQ(v.to_string(), "3:12,15:20");
  EXPECT_EQ(v.ranges().size(), 2u);
  EXPECT_EQ(v.size(), 16u);
}

TEST(MailboxView, RemoveSplitsAndShrinksRanges) {
  MailboxView v = view_of("1:10");
  EXPECT_TRUE(v.remove(5));
  EXPECT_EQ(v.to_string(), "1:4,6:10");
  EXPECT_TRUE(v.remove(1));
  EXPECT_TRUE(v.remove(10));
  EXPECT_EQ(v.to_string(), "2:4,6:9");
  EXPECT_FALSE(v.remove(5));
  EXPECT_FALSE(v.remove(42));
  EXPECT_TRUE(v.remove(6));
  EXPECT_TRUE(v.remove(7));
  EXPECT_TRUE(v.remove(8));
  EXPECT_TRUE(v.remove(9));
  EXPECT_EQ(v.to_string(), "2:4");
  EXPECT_EQ(v.size(), 3u);
}

TEST(MailboxView, SequenceNumbersCountAcrossRanges) {
  const MailboxView v = view_of("3:5,9,20:21");
  EXPECT_EQ(v.sequence_of(3), 1u);
  EXPECT_EQ(v.sequence_of(5), 3u);
  EXPECT_EQ(v.sequence_of(9), 4u);
  EXPECT_EQ(v.sequence_of(21), 6u);
  EXPECT_FALSE(v.sequence_of(6).has_value());
  EXPECT_FALSE(v.sequence_of(1).has_value());
  EXPECT_TRUE(v.contains(20));
  EXPECT_FALSE(v.contains(22));
  EXPECT_EQ(v.max(), 21u);
}

TEST(MailboxView, FromUnsortedUidsAndEmptySets) {
  EXPECT_EQ(MailboxView::from_uids({4, 1, 2, 3, 9, 8}).to_string(), "1:4,8:9");
  EXPECT_TRUE(MailboxView::from_uids({}).empty());
  EXPECT_EQ(MailboxView{}.to_string(), "");
  EXPECT_FALSE(MailboxView{}.max().has_value());
}

TEST(MailboxView, MinusKeepsOnlyWhatTheOtherLacks) {
  EXPECT_EQ(view_of("1:10").minus(view_of("3:4,8")).to_string(), "1:2,5:7,9:10");
  EXPECT_EQ(view_of("1:3,7:9").minus(view_of("1:9")).to_string(), "");
  EXPECT_EQ(view_of("5:6").minus(MailboxView{}).to_string(), "5:6");
  EXPECT_EQ(view_of("1:2,10:12").minus(view_of("2:11")).to_string(), "1,12");
}

TEST(Reconcile, ExpungesHighestSequenceFirstThenExists) {
  // Device knows 1..5; the store lost 2 and 4 and gained 6 and 7.
  const MailboxView device = view_of("1:5");
  const MailboxView store = view_of("1,3,5:7");
  const auto r = reconcile(device, store, false);
  EXPECT_EQ(r.lines, (Lines{"* 4 EXPUNGE\r\n", "* 2 EXPUNGE\r\n", "* 5 EXISTS\r\n"}));
  EXPECT_EQ(r.exists, 5u);
  expect_consistent(device, store, r.lines);
}

TEST(Reconcile, ContiguousExpungesInsideOneRange) {
  const MailboxView device = view_of("10:20");
  const MailboxView store = view_of("10:12,17:20");
  const auto r = reconcile(device, store, false);
  EXPECT_EQ(r.lines, (Lines{"* 7 EXPUNGE\r\n", "* 6 EXPUNGE\r\n", "* 5 EXPUNGE\r\n", "* 4 EXPUNGE\r\n"}));
  expect_consistent(device, store, r.lines);
}

TEST(Reconcile, QresyncGetsOneVanishedLine) {
  const MailboxView device = view_of("1:5");
  const MailboxView store = view_of("1,3,5:7");
  const auto r = reconcile(device, store, true);
  EXPECT_EQ(r.lines, (Lines{"* VANISHED 2,4\r\n", "* 5 EXISTS\r\n"}));
  expect_consistent(device, store, r.lines);
}

TEST(Reconcile, NothingChangedMeansNoLines) {
  const auto r = reconcile(view_of("1:3,9"), view_of("1:3,9"), false);
  EXPECT_TRUE(r.lines.empty());
  EXPECT_EQ(r.exists, 4u);
}

TEST(Reconcile, OnlyExpungesSendNoExists) {
  const auto r = reconcile(view_of("1:3"), view_of("1,3"), false);
  EXPECT_EQ(r.lines, (Lines{"* 2 EXPUNGE\r\n"}));
  EXPECT_EQ(r.exists, 2u);
}

TEST(Reconcile, EverythingGoneFromAFragmentedView) {
  const MailboxView device = view_of("2,4:6,9");
  const auto r = reconcile(device, MailboxView{}, false);
  EXPECT_EQ(r.lines, (Lines{"* 5 EXPUNGE\r\n", "* 4 EXPUNGE\r\n", "* 3 EXPUNGE\r\n", "* 2 EXPUNGE\r\n",
                            "* 1 EXPUNGE\r\n"}));
  EXPECT_EQ(r.exists, 0u);
}

TEST(Reconcile, EmptyDeviceViewOnlyCounts) {
  const auto r = reconcile(MailboxView{}, view_of("4:6"), false);
  EXPECT_EQ(r.lines, (Lines{"* 3 EXISTS\r\n"}));
}

TEST(Reconcile, NewMessageBelowAKnownOneReordersByExpungeAndRecount) {
  // The device was told of 12 (pushed during IDLE) but never of 11, which the store also has: 11 must
  // come before 12, so 12 goes and both are counted again.
  const MailboxView device = view_of("10,12");
  const MailboxView store = view_of("10:12");
  const auto r = reconcile(device, store, false);
  EXPECT_EQ(r.lines, (Lines{"* 2 EXPUNGE\r\n", "* 3 EXISTS\r\n"}));
  expect_consistent(device, store, r.lines);
}

TEST(Reconcile, RandomViewsStayConsistent) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 300; ++round) {
    MailboxView device, store;
    std::uint32_t uid = 1;
    for (int i = 0; i < 40; ++i, ++uid) {
      const auto dice = rng() % 6;
      if (dice == 0) continue;                    // expunged before either looked
      if (dice != 1) device.add(uid);             // the device knows it
      if (dice != 2) store.add(uid);              // the store still has it
    }
    for (int i = 0; i < 5; ++i, ++uid) {
      if (rng() % 2) store.add(uid);              // arrived while the device was away
    }
    const bool qresync = rng() % 2;
    const auto r = reconcile(device, store, qresync);
    expect_consistent(device, store, r.lines);
    if (HasFailure()) {
      ADD_FAILURE() << "device " << device.to_string() << " store " << store.to_string();
      return;
    }
  }
}

}  // namespace
}  // namespace pimap::deviceview
