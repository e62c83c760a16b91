#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <grpc/support/log.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "pimap/kit/grpc_client.hpp"
#include "pimap/kit/grpc_log.hpp"
#include "pimap/kit/grpc_server.hpp"
#include "pimap/kit_test/echo.grpc.pb.h"

namespace pimap::kit {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using pimap::kit_test::EchoReply;
using pimap::kit_test::EchoRequest;

// Sync-API echo that counts attempts per request key and fails the first `fail_first` of them.
class CountingEcho final : public pimap::kit_test::Echo::Service {
 public:
  grpc::Status Say(grpc::ServerContext* context, const EchoRequest* request, EchoReply* reply) override {
    int attempt;
    {
      std::lock_guard lock(mutex_);
      attempt = ++attempts_[request->key()];
    }
    if (static_cast<unsigned>(attempt) <= request->fail_first())
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try again");
    auto until = Clock::now() + std::chrono::milliseconds(request->delay_ms());
    while (Clock::now() < until) {
      if (context->IsCancelled()) return grpc::Status::CANCELLED;
      std::this_thread::sleep_for(5ms);
    }
    reply->set_text(request->text());
    reply->set_attempt(static_cast<unsigned>(attempt));
    return grpc::Status::OK;
  }
  int attempts(const std::string& key) {
    std::lock_guard lock(mutex_);
    return attempts_[key];
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> attempts_;
};

struct GrpcFixture : ::testing::Test {
  Logger log{"test", Level::warn, [](std::string_view) {}};
  CountingEcho echo;
  std::unique_ptr<GrpcServer> server;

  void SetUp() override {
    GrpcServerOptions o;
    o.listen = HostPort{"127.0.0.1", 0};
    server = std::make_unique<GrpcServer>(o, log);
    server->add_service(&echo);
    server->start();
    ASSERT_NE(server->port(), 0);
  }
  GrpcClientOptions client_options() const {
    GrpcClientOptions o;
    o.target = "127.0.0.1:" + std::to_string(server->port());
    o.default_deadline = 3s;
    o.initial_backoff = 10ms;
    o.max_backoff = 50ms;
    return o;
  }
  grpc::Status say(const GrpcClient& client, EchoRequest req, EchoReply* reply,
                   std::optional<std::chrono::milliseconds> deadline = std::nullopt) {
    auto stub = client.stub<pimap::kit_test::Echo>();
    grpc::ClientContext ctx;
    if (deadline) client.prepare(ctx, *deadline);
    else client.prepare(ctx);
    return stub->Say(&ctx, req, reply);
  }
};

TEST_F(GrpcFixture, CallSucceedsAndHealthIsServing) {
  GrpcClient client(client_options());
  EchoRequest req;
  req.set_text("hello");
  req.set_key("plain");
  EchoReply reply;
  ASSERT_TRUE(say(client, req, &reply).ok());
  EXPECT_EQ(reply.text(), "hello");

  auto health = client.stub<grpc::health::v1::Health>();
  grpc::health::v1::HealthCheckRequest hreq;
  grpc::health::v1::HealthCheckResponse hres;
  {
    grpc::ClientContext ctx;
    client.prepare(ctx);
    ASSERT_TRUE(health->Check(&ctx, hreq, &hres).ok());
    EXPECT_EQ(hres.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  server->set_serving(false);
  {
    grpc::ClientContext ctx;
    client.prepare(ctx);
    ASSERT_TRUE(health->Check(&ctx, hreq, &hres).ok());
    EXPECT_EQ(hres.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  }
}

TEST_F(GrpcFixture, DeadlineExceededIsReportedOnTime) {
  GrpcClient client(client_options());
  EchoRequest req;
  req.set_key("slow");
  req.set_delay_ms(3000);
  EchoReply reply;
  auto started = Clock::now();
  auto status = say(client, req, &reply, 150ms);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_LT(Clock::now() - started, 1s);
}

TEST_F(GrpcFixture, UnavailableIsRetriedWithBackoff) {
  GrpcClient client(client_options());  // max_attempts 4
  EchoRequest req;
  req.set_text("third time lucky");
  req.set_key("flaky");
  req.set_fail_first(2);
  EchoReply reply;
  auto status = say(client, req, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.attempt(), 3u);
  EXPECT_EQ(echo.attempts("flaky"), 3);
}

TEST_F(GrpcFixture, RetriesStopAtMaxAttempts) {
  auto o = client_options();
  o.max_attempts = 3;
  GrpcClient client(o);
  EchoRequest req;
  req.set_key("down");
  req.set_fail_first(100);
  EchoReply reply;
  EXPECT_EQ(say(client, req, &reply).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(echo.attempts("down"), 3);
}

TEST_F(GrpcFixture, OneAttemptMeansNoRetry) {
  auto o = client_options();
  o.max_attempts = 1;
  GrpcClient client(o);
  EXPECT_EQ(grpc_service_config_json(o).find("retryPolicy"), std::string::npos);
  EchoRequest req;
  req.set_key("once");
  req.set_fail_first(1);
  EchoReply reply;
  EXPECT_EQ(say(client, req, &reply).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(echo.attempts("once"), 1);
}

TEST_F(GrpcFixture, WaitForReadyWaitsForTheDeadlineInsteadOfFailingFast) {
  // Nothing listens on the port of a server that was started and stopped.
  auto port = server->port();
  server.reset();
  GrpcClientOptions o;
  o.target = "127.0.0.1:" + std::to_string(port);
  o.initial_backoff = 10ms;
  EchoRequest req;
  EchoReply reply;
  {
    GrpcClient fail_fast(o);
    auto started = Clock::now();
    EXPECT_EQ(say(fail_fast, req, &reply, 2s).error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_LT(Clock::now() - started, 1500ms);
  }
  o.wait_for_ready = true;
  GrpcClient patient(o);
  EXPECT_EQ(say(patient, req, &reply, 300ms).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(GrpcFixture, BindFailureNamesTheAddress) {
  GrpcServerOptions o;
  o.listen = HostPort{"127.0.0.1", server->port()};
  GrpcServer second(o, log);
  try {
    second.start();
    FAIL() << "second bind succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(server->port())));
  }
}

TEST_F(GrpcFixture, LifecycleDrainLetsInFlightCallsFinish) {
  Readiness readiness;
  Lifecycle::Options lo;
  lo.drain_timeout = 3s;
  lo.handle_signals = false;
  Lifecycle lifecycle(lo, log, readiness);
  server->attach(lifecycle);
  GrpcClient client(client_options());
  auto in_flight = std::async(std::launch::async, [&] {
    EchoRequest req;
    req.set_key("in-flight");
    req.set_delay_ms(400);
    EchoReply reply;
    return say(client, req, &reply).error_code();
  });
  while (echo.attempts("in-flight") == 0) std::this_thread::sleep_for(5ms);
  auto started = Clock::now();
  lifecycle.shutdown("test");
  EXPECT_EQ(lifecycle.run(), 0);
  EXPECT_EQ(in_flight.get(), grpc::StatusCode::OK);
  EXPECT_GE(Clock::now() - started, 300ms);
  EXPECT_LT(Clock::now() - started, 2s);
  // After the drain the server refuses new calls.
  EchoRequest late;
  EchoReply reply;
  EXPECT_NE(say(client, late, &reply, 500ms).error_code(), grpc::StatusCode::OK);
}

TEST(GrpcLog, GrpcDiagnosticsBecomeJsonLogLines) {
  std::vector<std::string> lines;
  Logger log("test", Level::info, [&lines](std::string_view l) { lines.emplace_back(l); });
  route_grpc_logs_to(log);
  gpr_log(GPR_ERROR, "something %s", "broke");
  route_grpc_logs_to(Logger("test", Level::error, [](std::string_view) {}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"level\":\"error\""));
  EXPECT_THAT(lines[0], HasSubstr("\"msg\":\"grpc: something broke\""));
  EXPECT_THAT(lines[0], HasSubstr("\"grpc_file\":"));
}

TEST(GrpcClientConfig, ServiceConfigCarriesTheRetryPolicy) {
  GrpcClientOptions o;
  o.max_attempts = 4;
  o.initial_backoff = 100ms;
  o.max_backoff = 2s;
  auto json = grpc_service_config_json(o);
  EXPECT_THAT(json, HasSubstr("\"maxAttempts\":4"));
  EXPECT_THAT(json, HasSubstr("\"initialBackoff\":\"0.100s\""));
  EXPECT_THAT(json, HasSubstr("\"maxBackoff\":\"2.000s\""));
  EXPECT_THAT(json, HasSubstr("\"retryableStatusCodes\":[\"UNAVAILABLE\"]"));
}

}  // namespace
}  // namespace pimap::kit
