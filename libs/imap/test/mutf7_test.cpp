#include <pimap/imap/mutf7.hpp>

#include <gtest/gtest.h>

namespace pimap::imap {
namespace {

// Examples from RFC 3501 §5.1.3 and what Dovecot's IMAP says for the same names.
TEST(Mutf7, EncodesTheRfcExamples) {
  EXPECT_EQ(utf8_to_mutf7("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(utf8_to_mutf7("Entw\xc3\xbc" "rfe"), "Entw&APw-rfe");
  EXPECT_EQ(utf8_to_mutf7("R&D"), "R&-D");
  EXPECT_EQ(utf8_to_mutf7("INBOX"), "INBOX");
  EXPECT_EQ(utf8_to_mutf7(""), "");
}

TEST(Mutf7, EncodesAstralCharactersAsSurrogatePairs) {
  EXPECT_EQ(utf8_to_mutf7("\xf0\x9f\x93\xa7 mail"), "&2D3c5w- mail");
  EXPECT_EQ(mutf7_to_utf8("&2D3c5w- mail"), "\xf0\x9f\x93\xa7 mail");
}

TEST(Mutf7, DecodesWhatItEncodes) {
  for (std::string_view s : {"Entw\xc3\xbc" "rfe", "\xe5\x8f\xb0\xe5\x8c\x97", "a&b&&c", "\xc3\xa9t\xc3\xa9/\xc3\xa9",
                             "tab\there", "\xf0\x9f\x98\x80\xf0\x9f\x98\x81"}) {
    auto enc = utf8_to_mutf7(s);
    ASSERT_TRUE(enc) << s;
    EXPECT_EQ(mutf7_to_utf8(*enc), std::string(s)) << *enc;
  }
}

TEST(Mutf7, RefusesMalformedUtf8) {
  EXPECT_FALSE(utf8_to_mutf7("\xc3"));              // truncated
  EXPECT_FALSE(utf8_to_mutf7("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(utf8_to_mutf7("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(utf8_to_mutf7("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(utf8_to_mutf7(std::string_view("a\0b", 3)));
}

TEST(Mutf7, RefusesMalformedModifiedUtf7) {
  EXPECT_FALSE(mutf7_to_utf8("&U,BTFw"));    // unterminated
  EXPECT_FALSE(mutf7_to_utf8("&U/BTFw-"));   // '/' is not in the modified alphabet
  EXPECT_FALSE(mutf7_to_utf8("&AP-"));       // 12 bits: not a whole UTF-16 unit
  EXPECT_FALSE(mutf7_to_utf8("&APx-"));      // nonzero padding bits
  EXPECT_FALSE(mutf7_to_utf8("&2D0-"));      // lone high surrogate
  EXPECT_FALSE(mutf7_to_utf8("&AAA-"));      // NUL
  EXPECT_FALSE(mutf7_to_utf8("caf\xc3\xa9")); // 8-bit bytes
  EXPECT_EQ(mutf7_to_utf8("R&-D"), "R&D");
}

}  // namespace
}  // namespace pimap::imap
