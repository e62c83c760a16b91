#include <pimap/sessionstore/preferences.hpp>
#include <pimap/sessionstore/sessions.hpp>

#include "fixture.hpp"

using namespace pimap::sessionstore;

namespace {

TEST(PreferenceRules, AcceptsTheProfileValuesCaseInsensitively) {
  auto c = check_preference("pimap_outband_channel", "wap_push");
  EXPECT_EQ(c.outcome, PrefOutcome::ok);
  EXPECT_EQ(c.name, "PIMAP_OUTBAND_CHANNEL");
  EXPECT_EQ(c.value, "WAP_PUSH");
  EXPECT_EQ(check_preference("PIMAP_OUTBAND_FORMAT", "EXTENDED").outcome, PrefOutcome::ok);
  EXPECT_EQ(check_preference("PIMAP_INBAND_PUSH", "on").value, "ON");
  EXPECT_EQ(check_preference("PIMAP_EVENT_FILTER", "NEW").outcome, PrefOutcome::ok);
  EXPECT_EQ(check_preference("PIMAP_OUTBAND_ADDRESS", "+4915112345678").value, "+4915112345678");
  EXPECT_EQ(check_preference("PIMAP_OUTBAND_ADDRESS", "NIL").value, "");
}

TEST(PreferenceRules, UnservedChannelsAreCannotNotBad) {
  for (auto v : {"GSMSMS", "WAPWDP", "MMS", "UDP", "SIP", "sip"}) {
    auto c = check_preference("PIMAP_OUTBAND_CHANNEL", v);
    EXPECT_EQ(c.outcome, PrefOutcome::cannot) << v;
    EXPECT_FALSE(c.reason.empty());
  }
  EXPECT_EQ(check_preference("PIMAP_OUTBAND_CHANNEL", "PIGEON").outcome, PrefOutcome::bad);
}

TEST(PreferenceRules, BadNamesAndValuesAreBad) {
  EXPECT_EQ(check_preference("PIMAP_NOPE", "ON").outcome, PrefOutcome::bad);
  EXPECT_EQ(check_preference("PIMAP_INBAND_PUSH", "MAYBE").outcome, PrefOutcome::bad);
  EXPECT_EQ(check_preference("PIMAP_EVENT_FILTER", "").outcome, PrefOutcome::bad);
  EXPECT_EQ(check_preference("PIMAP_OUTBAND_FORMAT", "XML").outcome, PrefOutcome::bad);
  for (auto v : {"4915112345678", "+12345", "+1234567890123456", "+49 151", "+49a5112345"})
    EXPECT_EQ(check_preference("PIMAP_OUTBAND_ADDRESS", v).outcome, PrefOutcome::bad) << v;
}

TEST(PreferenceRules, InbandNewFormatTakesAFetchAttributeList) {
  auto c = check_preference("PIMAP_INBAND_NEW_FORMAT", "(uid FLAGS envelope BODY.PEEK[HEADER])");
  EXPECT_EQ(c.outcome, PrefOutcome::ok) << c.reason;
  EXPECT_EQ(c.value, "(UID FLAGS ENVELOPE BODY.PEEK[HEADER])");
  auto fields = check_preference("PIMAP_INBAND_NEW_FORMAT",
                                 "(UID BODY.PEEK[HEADER.FIELDS (From Subject)]<0.512> RFC822.SIZE)");
  EXPECT_EQ(fields.outcome, PrefOutcome::ok) << fields.reason;
  EXPECT_EQ(check_preference("PIMAP_INBAND_NEW_FORMAT", "none").value, "NONE");
  EXPECT_EQ(check_preference("PIMAP_INBAND_NEW_FORMAT", "UID").value, "(UID)");
  EXPECT_EQ(check_preference("PIMAP_INBAND_NEW_FORMAT", "fast").value, "FAST");
  for (auto v : {"()", "(UID", "(UID FOO)", "(UID (FLAGS))", "(BODY.PEEK[HEADER)", "(UID[1])",
                 "(BODY.PEEK[1]<x>)", "(BODY.PEEK[1;])"})
    EXPECT_EQ(check_preference("PIMAP_INBAND_NEW_FORMAT", v).outcome, PrefOutcome::bad) << v;
  // Valid FETCH, but an unsolicited FETCH that sets \Seen is something the server will not do.
  EXPECT_EQ(check_preference("PIMAP_INBAND_NEW_FORMAT", "(UID BODY[TEXT])").outcome, PrefOutcome::cannot);
  EXPECT_EQ(check_preference("PIMAP_INBAND_NEW_FORMAT", "(RFC822)").outcome, PrefOutcome::cannot);
}

TEST(PreferenceRules, SpecsListEveryPreferenceWithItsDefault) {
  auto specs = preference_specs();
  ASSERT_EQ(specs.size(), 6u);
  EXPECT_EQ(specs[0].name, "PIMAP_OUTBAND_ADDRESS");
  EXPECT_EQ(specs[0].default_value, "");
  EXPECT_EQ(specs[1].default_value, "NONE");
  EXPECT_EQ(specs[1].provision.size(), 3u);  // SMS WAP_PUSH NONE: never the unserved ones
  for (const auto& s : specs) {
    if (!s.default_value.empty()) {
      EXPECT_EQ(check_preference(s.name, s.default_value).outcome, PrefOutcome::ok) << s.name;
    }
  }
}

class PreferenceStoreTest : public test::StoreTest {
 protected:
  PreferenceStore prefs{pool, keys};
};

TEST_F(PreferenceStoreTest, DefaultsThenRoundTrip) {
  auto all = prefs.get(phone);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 6u);
  EXPECT_EQ((*all)[1], (std::pair<std::string, std::string>{"PIMAP_OUTBAND_CHANNEL", "NONE"}));
  EXPECT_EQ((*all)[5].second, "ALL");

  auto set = prefs.set(phone, {{"pimap_outband_channel", "wap_push"}, {"PIMAP_OUTBAND_ADDRESS", "+4915112345678"}});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->failed.outcome, PrefOutcome::ok);
  const std::vector<std::string> names{"PIMAP_OUTBAND_CHANNEL", "pimap_outband_address", "PIMAP_EVENT_FILTER"};
  auto got = prefs.get(phone, names);
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)[0].second, "WAP_PUSH");
  EXPECT_EQ((*got)[1].first, "PIMAP_OUTBAND_ADDRESS");
  EXPECT_EQ((*got)[1].second, "+4915112345678");
  EXPECT_EQ((*got)[2].second, "ALL");

  ASSERT_TRUE(prefs.set(phone, {{"PIMAP_OUTBAND_ADDRESS", "NIL"}}));
  EXPECT_EQ((*prefs.get(phone, names))[1].second, "");
}

TEST_F(PreferenceStoreTest, AllOrNothing) {
  auto r = prefs.set(phone, {{"PIMAP_INBAND_PUSH", "ON"}, {"PIMAP_OUTBAND_CHANNEL", "MMS"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->failed.outcome, PrefOutcome::cannot);
  EXPECT_EQ(r->failed.name, "PIMAP_OUTBAND_CHANNEL");
  const std::vector<std::string> push{"PIMAP_INBAND_PUSH"};
  EXPECT_EQ((*prefs.get(phone, push))[0].second, "OFF");
  const std::vector<std::string> unknown{"PIMAP_FOO"};
  auto bad = prefs.get(phone, unknown);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, StoreErrc::invalid_argument);
}

TEST_F(PreferenceStoreTest, SurviveLogoutAndANewSession) {
  Sessions sessions(pool, keys, SessionConfig{});
  auto s = sessions.open(phone, OpenParams{"edge-a", "tcp"});
  ASSERT_TRUE(s);
  ASSERT_TRUE(prefs.set(phone, {{"PIMAP_EVENT_FILTER", "NEW"}}));
  ASSERT_TRUE(sessions.close(phone, s->session.id));
  ASSERT_TRUE(sessions.open(phone, OpenParams{"edge-b", "tcp"}));
  const std::vector<std::string> names{"PIMAP_EVENT_FILTER"};
  EXPECT_EQ((*prefs.get(phone, names))[0].second, "NEW");
  EXPECT_EQ(pttl(keys.prefs(phone)), -1);  // no expiry
}

}  // namespace
