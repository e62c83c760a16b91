#include "https_request.hpp"

#include <gtest/gtest.h>

using namespace pimap::edge::https;

namespace {

RequestHead post(std::string_view type = "application/vnd.pimap") {
  RequestHead h;
  h.method = "POST";
  h.target = "/pimap";
  h.content_type = type;
  h.content_length = 20;
  return h;
}

}  // namespace

TEST(HttpsRequest, PostWithPimapTypeIsAnInResponseBatch) {
  const Decision d = classify(post(), "/pimap", {});
  EXPECT_EQ(d.status, 0);
  EXPECT_EQ(d.mode, Mode::in_response);
  EXPECT_FALSE(d.session);
}

TEST(HttpsRequest, LemonadeTypeAndParametersAccepted) {
  EXPECT_EQ(classify(post("application/vnd.lemonade"), "/pimap", {}).status, 0);
  EXPECT_EQ(classify(post("Application/VND.Pimap; charset=utf-8"), "/pimap", {}).status, 0);
}

TEST(HttpsRequest, OtherMethodsAre405) {
  RequestHead h = post();
  for (std::string_view m : {"GET", "PUT", "HEAD", "OPTIONS"}) {
    h.method = m;
    EXPECT_EQ(classify(h, "/pimap", {}).status, 405) << m;
  }
}

TEST(HttpsRequest, WrongContentTypeIs415) {
  EXPECT_EQ(classify(post("text/plain"), "/pimap", {}).status, 415);
  EXPECT_EQ(classify(post(""), "/pimap", {}).status, 415);
  EXPECT_EQ(classify(post("application/vnd.pimapx"), "/pimap", {}).status, 415);
}

TEST(HttpsRequest, UnknownContentEncodingIs415) {
  RequestHead h = post();
  h.content_encoding = "br";
  EXPECT_EQ(classify(h, "/pimap", {}).status, 415);
  h.content_encoding = "gzip";
  const Decision d = classify(h, "/pimap", {});
  EXPECT_EQ(d.status, 0);
  EXPECT_EQ(d.request_coding, Coding::gzip);
}

TEST(HttpsRequest, OtherPathIs404QueryIgnored) {
  RequestHead h = post();
  h.target = "/other";
  EXPECT_EQ(classify(h, "/pimap", {}).status, 404);
  h.target = "/pimap?x=1";
  EXPECT_EQ(classify(h, "/pimap", {}).status, 0);
}

TEST(HttpsRequest, DeclaredBodyOverLimitIs413BeforeReadingIt) {
  RequestHead h = post();
  h.content_length = 1024 * 1024 + 1;
  EXPECT_EQ(classify(h, "/pimap", {}).status, 413);
  h.content_length = 1024 * 1024;
  EXPECT_EQ(classify(h, "/pimap", {}).status, 0);
}

TEST(HttpsRequest, ChunkedRequestIsPersistentChunkedMode) {
  RequestHead h = post();
  h.content_length.reset();
  h.chunked = true;
  EXPECT_EQ(classify(h, "/pimap", {}).mode, Mode::chunked);
}

TEST(HttpsRequest, AcceptChoosesContentTypeAndCoding) {
  RequestHead h = post();
  h.accept = "text/plain, application/vnd.pimap;q=0.9";
  h.accept_encoding = "deflate, gzip;q=0";
  const Decision d = classify(h, "/pimap", {});
  EXPECT_TRUE(d.pimap_content_type);
  EXPECT_EQ(d.response_coding, Coding::deflate);
}

TEST(HttpsRequest, ResponseCodingPrefersGzipAndHonoursZeroQ) {
  EXPECT_EQ(choose_response_coding("gzip, deflate"), Coding::gzip);
  EXPECT_EQ(choose_response_coding("deflate"), Coding::deflate);
  EXPECT_EQ(choose_response_coding("gzip;q=0.0, deflate;q=0.5"), Coding::deflate);
  EXPECT_EQ(choose_response_coding("br, identity"), Coding::identity);
  EXPECT_EQ(choose_response_coding(""), Coding::identity);
}

TEST(HttpsRequest, SessionCookieAmongOthers) {
  EXPECT_EQ(session_cookie("a=b; PIMAPSESSION=ABCDEF234567; c=d"), "ABCDEF234567");
  EXPECT_EQ(session_cookie("PIMAPSESSION=\"XYZ\""), "XYZ");
  EXPECT_FALSE(session_cookie("a=b; PIMAPSESSIONX=1"));
  EXPECT_FALSE(session_cookie(""));
  EXPECT_EQ(classify([] {
              RequestHead h = post();
              h.cookie = "PIMAPSESSION=S1";
              return h;
            }(), "/pimap", {}).session,
            "S1");
}

TEST(HttpsRequest, SetCookieCarriesTheProfileAttributes) {
  EXPECT_EQ(session_set_cookie("ID", "/pimap"), "PIMAPSESSION=ID; Secure; HttpOnly; SameSite=Strict; Path=/pimap");
}
