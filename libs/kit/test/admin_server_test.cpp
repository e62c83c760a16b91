#include "pimap/kit/admin_server.hpp"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "http_get.hpp"

namespace pimap::kit {
namespace {

using ::testing::HasSubstr;
using test::http_get;

struct AdminFixture : ::testing::Test {
  Metrics metrics{"demo", std::make_shared<prometheus::Registry>()};
  Readiness readiness;
  std::vector<std::string> log_lines;
  Logger log{"demo", Level::info, [this](std::string_view l) { log_lines.emplace_back(l); }};
  AdminServer server{HostPort{"127.0.0.1", 0}, metrics, readiness, log};
  void SetUp() override {
    server.start();
    ASSERT_NE(server.port(), 0);
  }
};

TEST_F(AdminFixture, MetricsAreServedInPrometheusTextFormat) {
  metrics.counter("requests_total", "Requests").Increment(3);
  auto res = http_get(server.port(), "/metrics");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.headers["content-type"], HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(res.body, HasSubstr("# TYPE pimap_demo_requests_total counter\n"));
  EXPECT_THAT(res.body, HasSubstr("\npimap_demo_requests_total 3\n"));
  metrics.counter("requests_total", "Requests").Increment();
  EXPECT_THAT(http_get(server.port(), "/metrics?x=1").body, HasSubstr("\npimap_demo_requests_total 4\n"));
}

TEST_F(AdminFixture, HealthzIsOkWhileAlive) {
  auto res = http_get(server.port(), "/healthz");
  EXPECT_EQ(res.status, 200);
  readiness.set_draining();
  EXPECT_EQ(http_get(server.port(), "/healthz").status, 200);  // draining is not dead
}

TEST_F(AdminFixture, ReadyzFollowsChecksAndDraining) {
  EXPECT_EQ(http_get(server.port(), "/readyz").status, 200);

  std::atomic<bool> store_up{true};
  readiness.add_check("store", [&] { return store_up.load(); });
  readiness.add_check("kafka", [] { return true; });
  readiness.add_check("throws", [] () -> bool { throw std::runtime_error("boom"); });
  auto res = http_get(server.port(), "/readyz");
  EXPECT_EQ(res.status, 503);
  auto body = boost::json::parse(res.body).as_object();
  EXPECT_EQ(body.at("ready").as_bool(), false);
  EXPECT_EQ(body.at("failing").as_array(), boost::json::array({"throws"}));

  store_up = false;
  body = boost::json::parse(http_get(server.port(), "/readyz").body).as_object();
  EXPECT_EQ(body.at("failing").as_array(), boost::json::array({"store", "throws"}));
}

TEST_F(AdminFixture, ReadyzFailsOnceDraining) {
  ASSERT_EQ(http_get(server.port(), "/readyz").status, 200);
  readiness.set_draining();
  auto res = http_get(server.port(), "/readyz");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.headers["content-type"], "application/json");
  auto body = boost::json::parse(res.body).as_object();
  EXPECT_EQ(body.at("draining").as_bool(), true);
}

TEST_F(AdminFixture, UnknownPathsAndMethodsAreRefused) {
  EXPECT_EQ(http_get(server.port(), "/nope").status, 404);
  auto res = test::http_request(server.port(), "POST", "/metrics");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.headers["allow"], "GET");
}

TEST_F(AdminFixture, StopClosesThePort) {
  auto port = server.port();
  server.stop();
  EXPECT_THROW(http_get(port, "/healthz"), std::runtime_error);
}

TEST_F(AdminFixture, BindFailureNamesTheAddress) {
  AdminServer second(HostPort{"127.0.0.1", server.port()}, metrics, readiness, log);
  try {
    second.start();
    FAIL() << "second bind succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(server.port())));
  }
}

}  // namespace
}  // namespace pimap::kit
