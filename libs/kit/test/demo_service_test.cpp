// The kit as a real process: kit_demo_service started, probed over HTTP and gRPC, and sent signals.

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <future>

#include "child_process.hpp"
#include "http_get.hpp"
#include "pimap/kit/grpc_client.hpp"
#include "pimap/kit_test/echo.grpc.pb.h"

namespace pimap::kit {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;
using test::ChildProcess;
using test::http_get;

std::optional<boost::json::object> json_line(const std::string& line) {
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

bool has_msg(const std::string& line, std::string_view msg) {
  auto o = json_line(line);
  return o && o->contains("msg") && o->at("msg").as_string() == msg;
}

struct Demo {
  std::unique_ptr<ChildProcess> process;
  std::uint16_t admin_port = 0;
  std::uint16_t grpc_port = 0;

  explicit Demo(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.end(), {"--admin.listen=127.0.0.1:0", "--grpc.listen=127.0.0.1:0"});
    process = std::make_unique<ChildProcess>(KIT_DEMO_SERVICE, args, env);
    auto listening = process->wait_for_stderr([](const std::string& l) { return has_msg(l, "listening"); }, 10s);
    if (!listening) throw std::runtime_error("kit_demo_service did not start listening");
    auto o = *json_line(*listening);
    admin_port = static_cast<std::uint16_t>(o.at("admin_port").as_int64());
    grpc_port = static_cast<std::uint16_t>(o.at("grpc_port").as_int64());
  }
  // Polls /readyz like the kubelet does; true once it answers 200.
  bool wait_ready(std::chrono::milliseconds timeout) const {
    auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      if (http_get(admin_port, "/readyz").status == 200) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  bool logged(std::string_view msg) const {
    for (const auto& l : process->stderr_lines())
      if (has_msg(l, msg)) return true;
    return false;
  }
  std::optional<boost::json::object> line_with(std::string_view msg) const {
    for (const auto& l : process->stderr_lines())
      if (has_msg(l, msg)) return json_line(l);
    return std::nullopt;
  }
};

TEST(DemoService, EveryStderrLineIsJson) {
  Demo demo({});
  demo.process->signal(SIGTERM);
  ASSERT_EQ(demo.process->wait_exit(5s), 0);
  auto lines = demo.process->stderr_lines();
  ASSERT_GE(lines.size(), 3u);
  for (const auto& l : lines) {
    auto o = json_line(l);
    ASSERT_TRUE(o) << l;
    EXPECT_EQ(o->at("svc").as_string(), "demo");
  }
}

TEST(DemoService, SigtermDrainsInFlightWorkThenExitsZero) {
  Demo demo({"--demo.flush_seconds=0.6", "--shutdown.drain_seconds=5"});
  ASSERT_TRUE(demo.wait_ready(5s));

  // A gRPC call in flight when SIGTERM arrives must still complete.
  GrpcClientOptions o;
  o.target = "127.0.0.1:" + std::to_string(demo.grpc_port);
  GrpcClient client(o);
  auto call = std::async(std::launch::async, [&] {
    auto stub = client.stub<pimap::kit_test::Echo>();
    grpc::ClientContext ctx;
    client.prepare(ctx);
    pimap::kit_test::EchoRequest req;
    req.set_text("in flight");
    req.set_delay_ms(400);
    pimap::kit_test::EchoReply reply;
    return stub->Say(&ctx, req, &reply).error_code();
  });
  // Wait until the call is being served (counted by the demo's metric), so it really is in flight.
  auto deadline = Clock::now() + 5s;
  while (http_get(demo.admin_port, "/metrics").body.find("\npimap_demo_echo_calls_total 1\n") == std::string::npos) {
    ASSERT_LT(Clock::now(), deadline) << "the call never reached the demo";
    std::this_thread::sleep_for(10ms);
  }

  auto sent = Clock::now();
  demo.process->signal(SIGTERM);
  ASSERT_TRUE(demo.process->wait_for_stderr([](const std::string& l) { return has_msg(l, "shutdown: started; readyz now fails"); }, 2s));
  auto during = http_get(demo.admin_port, "/readyz");
  EXPECT_EQ(during.status, 503);
  EXPECT_THAT(during.body, HasSubstr("\"draining\":true"));
  EXPECT_EQ(http_get(demo.admin_port, "/healthz").status, 200);

  auto code = demo.process->wait_exit(5s);
  auto took = Clock::now() - sent;
  ASSERT_TRUE(code) << "still running 5 s after SIGTERM";
  EXPECT_EQ(*code, 0);
  EXPECT_GE(took, 550ms);  // waited for the 0.6 s flush
  EXPECT_LT(took, 3s);
  EXPECT_EQ(call.get(), grpc::StatusCode::OK);
  EXPECT_TRUE(demo.logged("buffered work flushed"));
  EXPECT_TRUE(demo.logged("shutdown: drained"));
}

TEST(DemoService, HookThatNeverFinishesIsCutOffAtDrainSeconds) {
  Demo demo({"--demo.flush_hangs", "--shutdown.drain_seconds=1"});
  auto sent = Clock::now();
  demo.process->signal(SIGTERM);
  auto code = demo.process->wait_exit(6s);
  auto took = Clock::now() - sent;
  ASSERT_TRUE(code) << "not cut off";
  EXPECT_EQ(*code, 0);
  EXPECT_GE(took, 950ms);
  EXPECT_LT(took, 3s);
  auto warn = demo.line_with("shutdown: drain cut off at drain_seconds; work left unfinished");
  ASSERT_TRUE(warn);
  EXPECT_EQ(warn->at("level").as_string(), "warn");
  EXPECT_EQ(warn->at("pending_hooks").as_string(), "buffered work");
}

TEST(DemoService, SecondSigtermExitsAtOnce) {
  Demo demo({"--demo.flush_hangs", "--shutdown.drain_seconds=30"});
  demo.process->signal(SIGTERM);
  ASSERT_TRUE(demo.process->wait_for_stderr([](const std::string& l) { return has_msg(l, "shutdown: started; readyz now fails"); }, 2s));
  auto sent = Clock::now();
  demo.process->signal(SIGTERM);
  auto code = demo.process->wait_exit(3s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  EXPECT_LT(Clock::now() - sent, 2s);
}

TEST(DemoService, MetricsEndpointServesServiceAndProcessMetrics) {
  Demo demo({});
  {
    GrpcClientOptions o;
    o.target = "127.0.0.1:" + std::to_string(demo.grpc_port);
    GrpcClient client(o);
    for (int i = 0; i < 2; ++i) {
      auto stub = client.stub<pimap::kit_test::Echo>();
      grpc::ClientContext ctx;
      client.prepare(ctx);
      pimap::kit_test::EchoRequest req;
      pimap::kit_test::EchoReply reply;
      ASSERT_TRUE(stub->Say(&ctx, req, &reply).ok());
    }
  }  // an idle client connection would hold the server's Shutdown until the client notices GOAWAY
  auto res = http_get(demo.admin_port, "/metrics");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, HasSubstr("# TYPE pimap_demo_echo_calls_total counter\npimap_demo_echo_calls_total 2\n"));
  EXPECT_THAT(res.body, HasSubstr("pimap_demo_build_info{version="));
  EXPECT_THAT(res.body, HasSubstr("pimap_demo_process_open_fds "));
  demo.process->signal(SIGTERM);
  EXPECT_EQ(demo.process->wait_exit(5s), 0);
}

TEST(DemoService, BadConfigurationExitsTwoNamingTheKey) {
  ChildProcess p(KIT_DEMO_SERVICE, {"--admin.lisen=127.0.0.1:0"});
  ASSERT_EQ(p.wait_exit(5s), 2);
  auto lines = p.stderr_lines();
  ASSERT_FALSE(lines.empty());
  auto o = json_line(lines.front());
  ASSERT_TRUE(o) << lines.front();
  EXPECT_EQ(o->at("level").as_string(), "error");
  EXPECT_EQ(o->at("msg").as_string(),
            "config: unknown key 'admin.lisen' (did you mean 'admin.listen'?) in flag --admin.lisen");

  ChildProcess range(KIT_DEMO_SERVICE, {}, {"PIMAP_SHUTDOWN_DRAIN_SECONDS=7200"});
  ASSERT_EQ(range.wait_exit(5s), 2);
  EXPECT_THAT(range.stderr_lines().front(),
              HasSubstr("key 'shutdown.drain_seconds' (env PIMAP_SHUTDOWN_DRAIN_SECONDS): 7200s is out of range"));
}

TEST(DemoService, HelpAndPrintConfigNeverShowSecrets) {
  ChildProcess help(KIT_DEMO_SERVICE, {"--help"});
  ASSERT_EQ(help.wait_exit(5s), 0);
  EXPECT_THAT(help.stdout_text(), HasSubstr("demo.flush_seconds  (duration"));
  EXPECT_THAT(help.stdout_text(), HasSubstr("env: PIMAP_DEMO_FLUSH_SECONDS"));
  EXPECT_THAT(help.stdout_text(), HasSubstr("grpc.listen  (host:port)"));

  ChildProcess print(KIT_DEMO_SERVICE, {"--print-config"}, {"PIMAP_DEMO_API_TOKEN=tok-8f2b4c"});
  ASSERT_EQ(print.wait_exit(5s), 0);
  EXPECT_THAT(print.stdout_text(), HasSubstr("demo.api_token: \"***\"  # env PIMAP_DEMO_API_TOKEN"));
  EXPECT_THAT(print.stdout_text(), Not(HasSubstr("tok-8f2b4c")));
}

TEST(DemoService, ConfiguredSecretNeverReachesTheLog) {
  Demo demo({"--log.level=debug"}, {"PIMAP_DEMO_API_TOKEN=tok-8f2b4c-secret"});
  {
    GrpcClientOptions o;
    o.target = "127.0.0.1:" + std::to_string(demo.grpc_port);
    GrpcClient client(o);
    auto stub = client.stub<pimap::kit_test::Echo>();
    grpc::ClientContext ctx;
    client.prepare(ctx);
    pimap::kit_test::EchoRequest req;
    req.set_text("before tok-8f2b4c-secret after");  // the demo logs request text at debug level
    pimap::kit_test::EchoReply reply;
    ASSERT_TRUE(stub->Say(&ctx, req, &reply).ok());
    EXPECT_EQ(reply.text(), "before tok-8f2b4c-secret after");  // scrubbed from logs, not from data
  }
  demo.process->signal(SIGTERM);
  ASSERT_EQ(demo.process->wait_exit(5s), 0);
  auto echo = demo.line_with("echo call");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->at("text").as_string(), "before *** after");
  for (const auto& l : demo.process->stderr_lines()) EXPECT_THAT(l, Not(HasSubstr("tok-8f2b4c-secret")));
}

}  // namespace
}  // namespace pimap::kit
