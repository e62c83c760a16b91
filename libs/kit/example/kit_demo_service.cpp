// kit_demo_service: the smallest complete pimap service, and the model for every service's main().
//
// It serves pimap.kit_test.Echo over gRPC and holds simulated buffered work that has to be flushed when
// the service is told to stop. Everything else (config, logs, metrics, /healthz, /readyz, SIGTERM drain)
// comes from libs/kit. The kit's shutdown tests run this binary as a real process.
//
//   kit_demo_service --admin.listen=127.0.0.1:9091 --grpc.listen=127.0.0.1:50061
//   kit_demo_service --help | --print-config

#include <atomic>
#include <chrono>
#include <memory>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "pimap/kit/grpc_server.hpp"
#include "pimap/kit/service.hpp"
#include "pimap/kit_test/echo.grpc.pb.h"

namespace kit = pimap::kit;
namespace asio = boost::asio;

namespace {

// A unary call answered later from a timer on the service's io_context: in flight without holding a
// thread. gRPC cancels calls that outlive Server::Shutdown's deadline; OnCancel finishes them so the
// shutdown never waits on a timer that will not fire.
class DelayedReply final : public grpc::ServerUnaryReactor {
 public:
  DelayedReply(asio::io_context& io, std::chrono::milliseconds delay) : state_(std::make_shared<State>(io)) {
    state_->timer.expires_after(delay);
    state_->timer.async_wait([state = state_, self = this](const boost::system::error_code&) {
      if (!state->finished.exchange(true)) self->Finish(grpc::Status::OK);
    });
  }

  void OnCancel() override {
    if (!state_->finished.exchange(true)) Finish(grpc::Status::CANCELLED);
    asio::post(state_->timer.get_executor(), [state = state_] { state->timer.cancel(); });
  }
  void OnDone() override { delete this; }

 private:
  // Outlives the reactor: the timer's handler may run after gRPC has deleted it.
  struct State {
    explicit State(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::atomic<bool> finished{false};
  };
  std::shared_ptr<State> state_;
};

class EchoService final : public pimap::kit_test::Echo::CallbackService {
 public:
  EchoService(asio::io_context& io, kit::Logger log, prometheus::Counter& calls)
      : io_(io), log_(std::move(log)), calls_(calls) {}

  grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* context, const pimap::kit_test::EchoRequest* request,
                                pimap::kit_test::EchoReply* reply) override {
    calls_.Increment();
    // Request data may hold anything, even a configured secret: the kit's logger scrubs those.
    log_.debug("echo call", {{"text", request->text()}, {"delay_ms", request->delay_ms()}});
    reply->set_text(request->text());
    reply->set_attempt(1);
    if (request->delay_ms() > 0) return new DelayedReply(io_, std::chrono::milliseconds(request->delay_ms()));
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  asio::io_context& io_;
  kit::Logger log_;
  prometheus::Counter& calls_;
};

}  // namespace

int main(int argc, char** argv) {
  // 1. Declare every key the service reads (the kit adds admin.listen, log.level, shutdown.*, runtime.*).
  kit::Schema schema;
  kit::GrpcServerOptions::declare(schema, "grpc", "127.0.0.1:50051");
  schema.duration("demo.flush_seconds", "How long flushing the buffered work takes when draining")
      .def(std::chrono::milliseconds(300))
      .range(std::chrono::seconds(0), std::chrono::minutes(10));
  schema.boolean("demo.flush_hangs", "Simulate a flush that never finishes (the drain gets cut off)").def(false);
  schema.string("demo.api_token", "Example secret: never printed or logged").secret().optional();

  // 2. Start: parse argv/env/file (exits 2 on a bad config), logs, metrics, admin server, signals.
  kit::Service svc("demo", argc, argv, std::move(schema));
  const kit::Config& cfg = svc.config();

  // 3. Build the components on the service's io_context and metrics.
  auto& calls = svc.metrics().counter("echo_calls_total", "Echo calls received");
  EchoService echo(svc.io(), svc.log(), calls);
  kit::GrpcServer grpc(kit::GrpcServerOptions::from_config(cfg, "grpc"), svc.log());
  grpc.add_service(&echo);
  grpc.start();

  // 4. Tell the lifecycle how to stop them, and readiness what "able to serve" means.
  grpc.attach(svc.lifecycle());
  std::atomic<bool> accepting{true};
  svc.readiness().add_check("grpc", [&accepting] { return accepting.load(); });
  svc.lifecycle().on_stop_accepting("demo intake", [&accepting] { accepting = false; });
  svc.lifecycle().on_drain("buffered work", [&](kit::DrainToken token) {
    if (cfg.boolean("demo.flush_hangs")) {
      svc.log().warn("buffered work: flush started and will never finish");
      return;  // token.done() never called: the lifecycle cuts the drain off at drain_seconds
    }
    auto timer = std::make_shared<asio::steady_timer>(svc.io(), cfg.duration("demo.flush_seconds"));
    timer->async_wait([timer, token, &svc](const boost::system::error_code&) {
      svc.log().info("buffered work flushed");
      token.done();
    });
  });

  // 5. Run until SIGTERM has drained; the exit code comes from the lifecycle.
  svc.log().info("listening", {{"admin_port", svc.admin_port()}, {"grpc_port", grpc.port()}});
  return svc.run();
}
