// The device view as the edge saves it with the session service: every part round-trips, anything
// malformed reads as "unknown", and the MODSEQs shown above the floor stay bounded.

#include "pimap/deviceview/device_view.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace pimap::deviceview {
namespace {

DeviceView inbox_view(std::initializer_list<std::uint32_t> uids, std::vector<std::string> enabled = {}) {
  DeviceView v;
  v.enabled = std::move(enabled);
  v.mailbox = DeviceView::Mailbox{"INBOX", "SELECT INBOX\r\n", 7, MailboxView::from_uids(uids), 0, {}};
  return v;
}

TEST(DeviceView, EncodesAndDecodesEveryPart) {
  DeviceView v = inbox_view({1, 2, 3, 9}, {"CONDSTORE", "QRESYNC"});
  v.mailbox->modseq_floor = 12345678901234ULL;
  v.mailbox->shown_modseqs = {{3, 12345678901240ULL}, {9, 12345678901236ULL}};
  const auto saved = encode_view(v);
  EXPECT_EQ(saved.at("ms"), "12345678901234");
  EXPECT_EQ(saved.at("sm"), "3:12345678901240,9:12345678901236");
  EXPECT_EQ(saved.at("u"), "1:3,9");
  EXPECT_EQ(saved.at("e"), "CONDSTORE QRESYNC");
  EXPECT_EQ(decode_view(saved), v);

  DeviceView empty_box = inbox_view({});
  EXPECT_EQ(decode_view(encode_view(empty_box)), empty_box);
  DeviceView authenticated;  // nothing selected, nothing enabled
  EXPECT_EQ(decode_view(encode_view(authenticated)), authenticated);
}

TEST(DeviceView, UnknownOrMalformedIsNullopt) {
  EXPECT_FALSE(decode_view({}));
  auto saved = encode_view(inbox_view({1, 2}));
  saved["u"] = "1:x";
  EXPECT_FALSE(decode_view(saved));
  saved = encode_view(inbox_view({1, 2}));
  saved.erase("f");
  EXPECT_FALSE(decode_view(saved));
  saved = encode_view(inbox_view({1, 2}));
  saved["uv"] = "0";
  EXPECT_FALSE(decode_view(saved));
  saved = encode_view(inbox_view({1, 2}));
  saved["ms"] = "-1";
  EXPECT_FALSE(decode_view(saved));
  for (const char* bad : {"3", "3:", ":5", "3:0", "x:5", "3:5,,4:6"}) {
    saved = encode_view(inbox_view({1, 2}));
    saved["sm"] = bad;
    EXPECT_FALSE(decode_view(saved)) << bad;
  }
}

TEST(DeviceView, ShownModseqsKeepOnlyWhatTheFloorDoesNotCoverAndStayBounded) {
  ShownModseqs shown;
  record_shown_modseq(shown, 5, 100, 100);  // at the floor: the SELECT showed it
  record_shown_modseq(shown, 6, 101, 0);    // no floor (CONDSTORE off): nothing to compare with
  EXPECT_TRUE(shown.empty());
  record_shown_modseq(shown, 5, 103, 100);
  record_shown_modseq(shown, 5, 102, 100);  // an older answer read later does not lower it
  EXPECT_EQ(shown, (ShownModseqs{{5, 103}}));
  for (std::uint32_t uid = 10; uid < 10 + kMaxShownModseqs; ++uid) record_shown_modseq(shown, uid, 200 + uid, 100);
  EXPECT_EQ(shown.size(), kMaxShownModseqs);
  EXPECT_EQ(shown.count(5), 0u);  // the lowest MODSEQ went first
  EXPECT_EQ(shown.count(10), 1u);
}

}  // namespace
}  // namespace pimap::deviceview
