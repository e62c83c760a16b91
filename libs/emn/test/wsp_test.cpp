#include <pimap/emn/wbxml.hpp>
#include <pimap/emn/wsp.hpp>

#include <gtest/gtest.h>

namespace pimap::emn {
namespace {

using namespace std::chrono;

TEST(WspPush, ExtractsTheEmnBodyFromAPushPdu) {
  const Notification n{"mailat:alice@example.test", sys_days{2026y / 11 / 27} + 10h};
  const auto body = encode_wbxml(n);
  // TID 0, Push, headers length 3: content type 0xB0 (emn+wbxml), X-Wap-Application-Id (0xAF) 0x89.
  std::string pdu{'\x00', '\x06', '\x03', '\xB0', '\xAF', '\x89'};
  pdu += body;
  std::string error;
  auto p = parse_wsp_push(pdu, &error);
  ASSERT_TRUE(p) << error;
  EXPECT_EQ(p->content_type_code, kEmnWbxmlContentType);
  EXPECT_EQ(p->headers, std::string("\xAF\x89"));
  EXPECT_EQ(p->body, body);
  auto decoded = decode_wbxml(p->body);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, n);
}

TEST(WspPush, ReadsTextualAndGeneralFormContentTypes) {
  std::string text_ct{'\x01', '\x06', '\x1E'};
  text_ct += std::string("application/vnd.wap.emn+wbxml") + '\0';
  text_ct += "BODY";
  auto p = parse_wsp_push(text_ct);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->content_type_text, "application/vnd.wap.emn+wbxml");
  EXPECT_EQ(p->body, "BODY");

  // Value-length 3: well-known 0xB0 + a charset parameter (0x81 0xEA).
  std::string general{'\x00', '\x06', '\x04', '\x03', '\xB0', '\x81', '\xEA', 'X'};
  p = parse_wsp_push(general);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->content_type_code, 0x30);
  EXPECT_EQ(p->body, "X");
}

TEST(WspPush, RejectsOtherPdus) {
  std::string error;
  EXPECT_FALSE(parse_wsp_push(std::string{'\x00', '\x04', '\x00'}, &error));  // Reply
  EXPECT_FALSE(parse_wsp_push(std::string{'\x00', '\x06', '\x09', '\xB0'}, &error));  // headers cut
  EXPECT_FALSE(parse_wsp_push("", &error));
}

}  // namespace
}  // namespace pimap::emn
