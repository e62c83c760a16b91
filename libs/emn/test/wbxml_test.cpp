#include <pimap/emn/wbxml.hpp>

#include <gtest/gtest.h>

namespace pimap::emn {
namespace {

using namespace std::chrono;

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

// The document Kannel's PPG accepted and delivered as one binary SMS
// (shared/reference/services-by-hand.md §9).
std::string known_document() {
  return bytes({0x03, 0x0D, 0x6A, 0x00, 0x85, 0x07, 0x03}) + "alice@example.test" +
         bytes({0x00, 0x05, 0xC3, 0x07, 0x20, 0x26, 0x11, 0x27, 0x10, 0x00, 0x00, 0x01});
}

const Notification kAlice{"mailat:alice@example.test", sys_days{2026y / 11 / 27} + 10h};

TEST(EmnWbxml, EncodesTheKnownDocumentByteForByte) { EXPECT_EQ(encode_wbxml(kAlice), known_document()); }

TEST(EmnWbxml, DecodesTheKnownDocument) {
  std::string error;
  auto n = decode_wbxml(known_document(), &error);
  ASSERT_TRUE(n) << error;
  EXPECT_EQ(n->mailbox, "mailat:alice@example.test");
  EXPECT_EQ(n->timestamp, sys_days{2026y / 11 / 27} + 10h);
}

TEST(EmnWbxml, RoundTripsSecondsAndOtherPrefixes) {
  for (std::string mailbox : {"mailat:bob@example.test", "imap://bob@mail.example.test/INBOX",
                              "https://www.example.test/mail", "http://example.test/", "pop://b@h", "x-other:b"}) {
    Notification n{mailbox, sys_days{1999y / 12 / 31} + 23h + 59min + 58s};
    auto d = decode_wbxml(encode_wbxml(n));
    ASSERT_TRUE(d) << mailbox;
    EXPECT_EQ(*d, n);
  }
}

TEST(EmnWbxml, PicksTheMostSpecificPrefixToken) {
  const auto doc = encode_wbxml({"https://www.example.test/", sys_days{2020y / 1 / 1}});
  EXPECT_EQ(static_cast<unsigned char>(doc[5]), 0x0D);  // "https://www." rather than "https://"
  EXPECT_EQ(doc.substr(7, 13), "example.test/");
}

TEST(EmnWbxml, DecodesShortenedOpaqueTimestampAndValueTokens) {
  // mailbox = "mailat:" "carol@example" ".com"; timestamp 2024-05-06 without time octets.
  const auto doc = bytes({0x03, 0x0D, 0x6A, 0x00, 0x85, 0x07, 0x03}) + "carol@example" +
                   bytes({0x00, 0x85, 0x05, 0xC3, 0x04, 0x20, 0x24, 0x05, 0x06, 0x01});
  auto n = decode_wbxml(doc);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->mailbox, "mailat:carol@example.com");
  EXPECT_EQ(n->timestamp, sys_days{2024y / 5 / 6});
}

TEST(EmnWbxml, DecodesStringTableAndTextualTimestamp) {
  // String table "dave@example.test\0"; mailbox = STR_T 0, timestamp as inline text.
  const std::string table = std::string("dave@example.test") + '\0';
  const auto doc = bytes({0x03, 0x0D, 0x6A, static_cast<int>(table.size())}) + table +
                   bytes({0x85, 0x05, 0x03}) + "2025-01-02T03:04:05Z" + bytes({0x00, 0x06, 0x83, 0x00, 0x01});
  std::string error;
  auto n = decode_wbxml(doc, &error);
  ASSERT_TRUE(n) << error;
  EXPECT_EQ(n->mailbox, "dave@example.test");
  EXPECT_EQ(n->timestamp, sys_days{2025y / 1 / 2} + 3h + 4min + 5s);
}

TEST(EmnWbxml, RejectsOtherDocumentsAndDamage) {
  std::string error;
  auto si = known_document();
  si[1] = 0x05;  // SI 1.0
  EXPECT_FALSE(decode_wbxml(si, &error));
  EXPECT_NE(error.find("not an EMN"), std::string::npos);

  const auto doc = known_document();
  for (std::size_t cut = 0; cut < doc.size(); ++cut)
    EXPECT_FALSE(decode_wbxml(doc.substr(0, cut))) << "truncated at " << cut;

  auto bad_bcd = doc;
  bad_bcd[bad_bcd.size() - 5] = static_cast<char>(0x1A);  // month octet 0x1A is not BCD
  EXPECT_FALSE(decode_wbxml(bad_bcd));

  auto no_date = doc;
  no_date[no_date.size() - 6] = static_cast<char>(0x13);  // month 13
  EXPECT_FALSE(decode_wbxml(no_date, &error));
}

}  // namespace
}  // namespace pimap::emn

// Found by fuzz/emn_fuzz: an ENTITY of 0 put a NUL into the mailbox, which the encoder cannot write
// back (the decoded notification would not survive a round trip). Control-character entities are
// refused like any other malformed document.
TEST(EmnWbxml, RefusesControlCharacterEntities) {
  // <emn mailbox="ab" + ENTITY(e) timestamp=2026-11-27T10:00:00Z/>
  auto doc = [](char entity) {
    std::string d("\x03\x0d\x6a\x00\x85\x06\x03" "ab", 9);
    d += '\0';
    d += '\x02';
    d += entity;
    d += std::string("\x05\xc3\x07\x20\x26\x11\x27\x10\x00\x00\x01", 11);
    return d;
  };
  auto tab = pimap::emn::decode_wbxml(doc('\x09'));
  ASSERT_TRUE(tab);  // the same document with a legal entity decodes
  EXPECT_EQ(tab->mailbox, "ab\t");
  EXPECT_FALSE(pimap::emn::decode_wbxml(doc('\x00')));
  EXPECT_FALSE(pimap::emn::decode_wbxml(doc('\x07')));
}
