// pimap-edge: the device-facing bindings. Terminates IMAP (STARTTLS and implicit TLS), runs the P-IMAP
// state machine, proxies IMAP commands to the store through pooled on-demand backend connections and
// calls the session service. Stateless: everything a device's session needs lives in the session
// service, so a device may reconnect to any edge.
//
//   pimap-edge --config /etc/pimap/edge.yaml      (pimap-edge --help lists every key)

#include "edge_metrics.hpp"
#include "edge_server.hpp"
#include "https_binding.hpp"
#include "edge_stream_client.hpp"
#include "session_client.hpp"
#include "store_pool.hpp"

#include <pimap/kit/grpc_client.hpp>
#include <pimap/kit/service.hpp>

#include <boost/asio/steady_timer.hpp>

#include <malloc.h>
#include <unistd.h>

namespace kit = pimap::kit;
namespace edge = pimap::edge;
namespace net = pimap::net;
using namespace std::chrono_literals;

namespace {

void declare(kit::Schema& s) {
  s.host_port("imap.listen", "IMAP listener (plaintext, STARTTLS required before login)").optional();
  s.host_port("imaps.listen", "IMAP listener with implicit TLS").optional();
  // HTTPS binding (profile §10; docs/https-binding.md).
  s.host_port("https.listen", "HTTPS binding (P-IMAP over HTTP/1.1 POST)").optional();
  s.string("https.path", "HTTPS binding path").def("/pimap");
  s.duration("https.heartbeat_seconds", "A long-lived IDLE response ends after this without events").def(300s).range(1s, 24h);
  s.duration("https.linger_seconds", "A device without a request pending counts as gone (wake-ups) after this").def(200ms).range(0s, 60s);
  s.duration("https.request_timeout_seconds", "A request's head and body must arrive within this").def(10s).range(1s, 600s);
  s.duration("https.keepalive_timeout_seconds", "Close a connection waiting this long for its next request").def(60s).range(1s, 3600s);
  s.integer("https.max_batch_bytes", "Largest in-response batch (bytes, after content decoding)").def(1024 * 1024).range(std::int64_t{1024}, std::int64_t{64} << 20);
  s.integer("https.max_batch_commands", "Most commands in one in-response batch").def(100).range(std::int64_t{1}, std::int64_t{10000});
  // Declared now so that one configuration serves every release (profile §8 XDELIVER).
  s.string("smtp.host", "MTA for XDELIVER; not used by this build yet").optional();
  s.integer("smtp.port", "MTA port for XDELIVER").def(25).range(std::int64_t{1}, std::int64_t{65535});
  s.string("tls.cert_file", "Server certificate chain (PEM)");
  s.string("tls.key_file", "Server private key (PEM)");
  s.boolean("tls.allow_plaintext_login", "Allow LOGIN before STARTTLS (tests only)").def(false);
  s.string("edge.id", "This edge's id for the session service (default: hostname:pid)").optional();
  s.integer("runtime.io_threads", "Threads serving device connections").def(2).range(std::int64_t{1}, std::int64_t{64});

  s.host_port("session.grpc", "Session service gRPC address").def("127.0.0.1:50051");
  s.duration("session.deadline_seconds", "Deadline of each session-service call").def(5s).range(100ms, 60s);

  s.string("store.host", "Message store (IMAPS) host").def("127.0.0.1");
  s.integer("store.port", "Message store IMAPS port").def(993).range(std::int64_t{1}, std::int64_t{65535});
  s.string("store.server_name", "Name the store's certificate must carry").def("localhost");
  s.string("store.ca_file", "CA bundle that signs the store's certificate").optional();
  s.string("store.master_user", "Store master user (backend logins as user*master)");
  s.string("store.master_password", "Store master user's password").secret();
  s.duration("store.pool_idle_seconds", "Idle backend connections are closed after this").def(30s).range(1s, 3600s);
  s.duration("store.connect_timeout_seconds", "Backend connect + TLS + login bound").def(5s).range(100ms, 120s);
  s.duration("store.login_timeout_seconds", "Bound of a credential check (stores delay failed logins)")
      .def(20s)
      .range(1s, 120s);
  s.duration("store.command_timeout_seconds", "Backend silence bound during a command").def(10s).range(1s, 3600s);
  s.integer("store.max_concurrent_logins", "Credential checks running at the store at once (this process)")
      .def(32)
      .range(std::int64_t{1}, std::int64_t{10000});
  s.integer("store.max_queued_logins", "Credential checks waiting for one; beyond: NO [UNAVAILABLE] Server busy")
      .def(512)
      .range(std::int64_t{0}, std::int64_t{1000000});
  s.duration("store.login_queue_timeout_seconds", "Longest wait for a credential check slot").def(10s).range(100ms, 120s);

  s.integer("limits.max_line", "Longest command line (bytes)").def(64 * 1024).range(std::int64_t{1024}, std::int64_t{16} << 20);
  s.integer("limits.max_literal", "Largest literal (bytes)").def(std::int64_t{50} << 20).range(std::int64_t{1024}, std::int64_t{1} << 32);
  s.integer("limits.max_connections", "Device connections per listener").def(19000).range(std::int64_t{1}, std::int64_t{1000000});
  s.duration("limits.idle_timeout_seconds", "Close a connection without commands (not in IDLE)").def(30min).range(1s, 24h);
  s.duration("limits.idle_command_timeout_seconds", "End an IDLE without any traffic").def(29min).range(1s, 24h);
  s.integer("limits.max_output_bytes", "Output queued for a slow client before it is dropped").def(std::int64_t{64} << 20).range(std::int64_t{65536}, std::int64_t{1} << 30);
}

std::string default_edge_id() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid());
}

}  // namespace

int main(int argc, char** argv) {
  kit::Schema schema;
  declare(schema);
  kit::Service svc("edge", argc, argv, std::move(schema));
  const kit::Config& cfg = svc.config();

  net::TlsContext tls = net::TlsContext::server({.cert_chain_file = cfg.string("tls.cert_file"),
                                                 .key_file = cfg.string("tls.key_file")});
  edge::EdgeMetrics metrics(svc.metrics());

  edge::StorePoolOptions store_opts;
  store_opts.host = cfg.string("store.host");
  store_opts.port = static_cast<std::uint16_t>(cfg.integer("store.port"));
  store_opts.server_name = cfg.string("store.server_name");
  if (cfg.has("store.ca_file")) store_opts.ca_file = cfg.string("store.ca_file");
  store_opts.master_user = cfg.string("store.master_user");
  store_opts.master_password = cfg.string("store.master_password");
  store_opts.idle_timeout = cfg.duration("store.pool_idle_seconds");
  store_opts.connect_timeout = cfg.duration("store.connect_timeout_seconds");
  store_opts.command_timeout = cfg.duration("store.command_timeout_seconds");
  store_opts.login_timeout = cfg.duration("store.login_timeout_seconds");
  store_opts.max_concurrent_logins = static_cast<std::size_t>(cfg.integer("store.max_concurrent_logins"));
  store_opts.max_queued_logins = static_cast<std::size_t>(cfg.integer("store.max_queued_logins"));
  store_opts.login_queue_timeout = cfg.duration("store.login_queue_timeout_seconds");
  edge::StorePool store(store_opts, svc.metrics(), svc.log());

  kit::GrpcClientOptions grpc_opts;
  grpc_opts.target = cfg.host_port("session.grpc").to_string();
  grpc_opts.default_deadline = cfg.duration("session.deadline_seconds");
  grpc_opts.max_attempts = 2;  // a device is waiting: fail over quickly rather than retry long
  const std::string edge_id = cfg.has("edge.id") ? cfg.string("edge.id") : default_edge_id();
  edge::SessionClient sessions(grpc_opts, edge_id, svc.log());
  // One EdgeStream for the whole process; its reconnect timers run on the service's io_context.
  edge::EdgeStreamClient pushes(grpc_opts, edge_id, svc.io().get_executor(), svc.log());
  pushes.start();

  edge::AuthThrottle throttle;
  edge::FrontContext front;
  front.options.idle_timeout = cfg.duration("limits.idle_timeout_seconds");
  front.options.idle_command_timeout = cfg.duration("limits.idle_command_timeout_seconds");
  front.options.allow_plaintext_login = cfg.boolean("tls.allow_plaintext_login");
  front.options.limits.max_line_length = static_cast<std::size_t>(cfg.integer("limits.max_line"));
  front.options.limits.max_literal_size = static_cast<std::uint64_t>(cfg.integer("limits.max_literal"));
  front.options.limits.max_nonsync_literal_size = front.options.limits.max_literal_size;
  front.store = &store;
  front.sessions = &sessions;
  front.pushes = &pushes;
  front.throttle = &throttle;
  front.metrics = &metrics;
  front.log = &svc.log();

  edge::TcpBindingOptions tcp;
  if (cfg.has("imap.listen")) {
    tcp.imap_host = cfg.host_port("imap.listen").host;
    tcp.imap_port = cfg.host_port("imap.listen").port;
  }
  if (cfg.has("imaps.listen")) {
    tcp.imaps_host = cfg.host_port("imaps.listen").host;
    tcp.imaps_port = cfg.host_port("imaps.listen").port;
  }
  tcp.max_connections = static_cast<std::size_t>(cfg.integer("limits.max_connections"));
  tcp.max_output_bytes = static_cast<std::size_t>(cfg.integer("limits.max_output_bytes"));

  net::IoPool pool(static_cast<std::size_t>(cfg.integer("runtime.io_threads")));
  edge::TcpBinding binding(pool, tls, tcp, front);
  binding.start();
  pool.start();

  std::unique_ptr<edge::HttpsBinding> https;
  if (cfg.has("https.listen")) {
    edge::HttpsBindingOptions ho;
    ho.host = cfg.host_port("https.listen").host;
    ho.port = cfg.host_port("https.listen").port;
    ho.max_connections = tcp.max_connections;
    ho.max_output_bytes = tcp.max_output_bytes;
    ho.http.path = cfg.string("https.path");
    ho.http.request_timeout = cfg.duration("https.request_timeout_seconds");
    ho.http.keepalive_timeout = cfg.duration("https.keepalive_timeout_seconds");
    ho.session.heartbeat = cfg.duration("https.heartbeat_seconds");
    ho.session.linger = cfg.duration("https.linger_seconds");
    ho.session.parked_for = front.options.idle_timeout;
    ho.session.limits.max_body = static_cast<std::size_t>(cfg.integer("https.max_batch_bytes"));
    ho.session.limits.max_commands = static_cast<std::size_t>(cfg.integer("https.max_batch_commands"));
    ho.session.parser = front.options.limits;
    ho.session.max_response_bytes = tcp.max_output_bytes;
    https = std::make_unique<edge::HttpsBinding>(tls, ho, front);
    https->start();
  }

  std::atomic<bool> accepting{true};
  svc.readiness().add_check("listeners", [&accepting] { return accepting.load(); });
  svc.lifecycle().on_stop_accepting("tcp listeners", [&] {
    accepting = false;
    binding.stop_accepting();
    if (https) https->stop_accepting();
  });
  // Devices hold connections for as long as they like (IDLE); give them until the deadline to finish,
  // after which they reconnect elsewhere and resume their session there.
  svc.lifecycle().on_drain("device connections", [&](kit::DrainToken token) {
    auto timer = std::make_shared<boost::asio::steady_timer>(svc.io());
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [&, timer, token, poll] {
      if (binding.open_connections() + (https ? https->open_connections() : 0) == 0) {
        token.done();
        *poll = nullptr;
        return;
      }
      timer->expires_after(100ms);
      timer->async_wait([poll](boost::system::error_code) {
        if (*poll) (*poll)();
      });
    };
    (*poll)();
  });

  // glibc keeps the memory of a burst of TLS handshakes after it is freed; give it back so that idle
  // devices cost what they hold (docs/performance.md, "Idle TLS connections").
  auto trim_timer = std::make_shared<boost::asio::steady_timer>(svc.io());
  auto trimming = std::make_shared<std::atomic<bool>>(true);
  auto trim = std::make_shared<std::function<void()>>();
  *trim = [trim_timer, trimming, weak = std::weak_ptr<std::function<void()>>(trim)] {
    trim_timer->expires_after(5s);
    trim_timer->async_wait([trimming, weak](boost::system::error_code ec) {
      if (ec || !trimming->load()) return;
      ::malloc_trim(0);
      if (auto next = weak.lock()) (*next)();
    });
  };
  (*trim)();
  svc.lifecycle().on_stop_accepting("housekeeping", [trimming] { trimming->store(false); });

  svc.log().info("edge ready", {{"imap_port", binding.imap_port()},
                                {"imaps_port", binding.imaps_port()},
                                {"https_port", https ? https->port() : 0},
                                {"admin_port", svc.admin_port()}});
  const int rc = svc.run();
  if (https) https->stop();
  pool.stop();
  pool.join();
  pushes.stop();
  return rc;
}
