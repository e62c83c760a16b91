#include "gateways.hpp"

#include <pimap/emn/wbxml.hpp>

#include <gtest/gtest.h>

namespace pimap::notifier {
namespace {

using namespace std::chrono;

TEST(SendSms, GetWithEveryParameterEncoded) {
  SmsGatewayOptions o{"http://127.0.0.1:13013/cgi-bin/sendsms", "pimap", "p&w d", "PIMAP"};
  const auto r = sendsms_request(o, "+4912345678", R"(<emn mailbox="mailat:a@b"/>)");
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.url,
            "http://127.0.0.1:13013/cgi-bin/sendsms?username=pimap&password=p%26w%20d&from=PIMAP&to=%2B4912345678"
            "&text=%3Cemn%20mailbox%3D%22mailat%3Aa%40b%22%2F%3E");
  EXPECT_TRUE(r.body.empty());
}

TEST(SendSms, Classification) {
  EXPECT_EQ(classify_sendsms({true, {}, 202, "0: Accepted for delivery"}), Verdict::sent);
  EXPECT_EQ(classify_sendsms({true, {}, 503, "Sending failed"}), Verdict::retry);
  EXPECT_EQ(classify_sendsms({false, "connect: Connection refused", 0, {}}), Verdict::retry);
  EXPECT_EQ(classify_sendsms({true, {}, 403, "Authorization failed for sendsms"}), Verdict::permanent);
  EXPECT_EQ(classify_sendsms({true, {}, 400, "bad"}), Verdict::permanent);
}

TEST(Pap, MultipartRelatedWithControlAndEmnContent) {
  WapGatewayOptions o{"http://127.0.0.1:13014/wappush", "ppg.pimap.test"};
  PapPush p;
  p.push_id = "abc@ppg.pimap.test";
  p.msisdn = "+4912345678";
  p.content = emn::encode_wbxml({"mailat:alice@example.test", sys_days{2026y / 11 / 27} + 10h});
  p.boundary = make_boundary(p.content);
  ASSERT_EQ(p.content.find(p.boundary), std::string::npos);
  const auto r = pap_request(o, p);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, o.ppg_url);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Content-Type");
  EXPECT_EQ(r.headers[0].second, "multipart/related; boundary=" + p.boundary + "; type=\"application/xml\"");

  const std::string& b = r.body;
  const std::string delim = "--" + p.boundary + "\r\n";
  ASSERT_EQ(b.find(delim), 0u);
  const auto second = b.find(delim, delim.size());
  ASSERT_NE(second, std::string::npos);
  const std::string control = b.substr(delim.size(), second - delim.size());
  EXPECT_NE(control.find("Content-Type: application/xml\r\n\r\n"), std::string::npos);
  EXPECT_NE(control.find("-//WAPFORUM//DTD PAP 2.0//EN"), std::string::npos);
  EXPECT_NE(control.find(R"(<push-message push-id="abc@ppg.pimap.test">)"), std::string::npos);
  EXPECT_NE(control.find(R"(<address address-value="WAPPUSH=+4912345678/TYPE=PLMN@ppg.pimap.test"/>)"),
            std::string::npos);

  const std::string close = "\r\n--" + p.boundary + "--\r\n";
  ASSERT_TRUE(b.ends_with(close));
  const std::string content_part = b.substr(second + delim.size(), b.size() - close.size() - second - delim.size());
  const std::string headers = "Content-Type: application/vnd.wap.emn+wbxml\r\n"
                              "X-Wap-Application-Id: x-wap-application:emn.ua\r\n\r\n";
  ASSERT_TRUE(content_part.starts_with(headers));
  EXPECT_EQ(content_part.substr(headers.size()), p.content);  // the WBXML bytes, untouched
}

TEST(Pap, Classification) {
  EXPECT_EQ(classify_pap({true, {}, 202, R"(<response-result code ="1001" desc="Accepted for processing"/>)"}),
            Verdict::sent);
  EXPECT_EQ(classify_pap({true, {}, 200, R"(<response-result code="1000"/>)"}), Verdict::sent);
  EXPECT_EQ(classify_pap({true, {}, 200, R"(<response-result code="2002" desc="address error"/>)"}),
            Verdict::permanent);
  EXPECT_EQ(classify_pap({true, {}, 200, R"(<response-result code="4000"/>)"}), Verdict::retry);
  EXPECT_EQ(classify_pap({true, {}, 503, ""}), Verdict::retry);
  EXPECT_EQ(classify_pap({false, "timed out", 0, {}}), Verdict::retry);
  EXPECT_EQ(classify_pap({true, {}, 400, "bad request"}), Verdict::permanent);
}

}  // namespace
}  // namespace pimap::notifier
