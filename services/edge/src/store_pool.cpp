#include "store_pool.hpp"

#include "store_connection.hpp"
#include "store_session.hpp"

#include <algorithm>

namespace pimap::edge {

StorePool::StorePool(const StorePoolOptions& options, kit::Metrics& metrics, const kit::Logger& log) {
  auto endpoint = std::make_shared<StoreEndpoint>();
  endpoint->host = options.host;
  endpoint->port = options.port;
  endpoint->server_name = options.server_name;
  endpoint->tls = std::make_shared<const net::TlsContext>(
      net::TlsContext::client({.ca_file = options.ca_file, .verify_peer = true}));
  endpoint->connect_timeout = options.connect_timeout;
  endpoint->login_timeout = options.login_timeout;
  endpoint->command_timeout = options.command_timeout;
  endpoint->connections = &metrics.gauge("backend_connections", "Open connections to the message store");
  auto& commands = metrics.counter_family("backend_commands_total", "Commands sent to the message store by result");
  endpoint->commands[static_cast<std::size_t>(StoreStatus::ok)] = &commands.Add({{"result", "ok"}});
  endpoint->commands[static_cast<std::size_t>(StoreStatus::no)] = &commands.Add({{"result", "no"}});
  endpoint->commands[static_cast<std::size_t>(StoreStatus::bad)] = &commands.Add({{"result", "bad"}});
  endpoint->commands[static_cast<std::size_t>(StoreStatus::unavailable)] = &commands.Add({{"result", "unavailable"}});

  auto backend = std::make_shared<StoreBackend>();
  backend->endpoint = std::move(endpoint);
  backend->master_user = options.master_user;
  backend->master_password = options.master_password;
  backend->master_separator = options.master_separator;
  backend->idle_timeout = options.idle_timeout;
  backend->connect_seconds = &metrics.histogram("backend_connect_seconds",
                                                "Connect, TLS, greeting and login to the message store",
                                                kit::Metrics::latency_buckets());
  backend->log = std::make_shared<const kit::Logger>(log.with({{"component", "store"}}));
  backend_ = std::move(backend);

  auto& refused = metrics.counter_family("login_checks_refused_total",
                                         "Device logins answered busy before reaching the message store");
  gate_ = LoginGate::create(
      {.max_in_flight = options.max_concurrent_logins,
       .max_queued = options.max_queued_logins,
       .max_wait = options.login_queue_timeout},
      {.in_flight = &metrics.gauge("login_checks_in_flight", "Credential checks running at the message store"),
       .queued = &metrics.gauge("login_checks_queued", "Credential checks waiting for a slot"),
       .queue_full = &refused.Add({{"reason", "queue_full"}}),
       .timed_out = &refused.Add({{"reason", "timed_out"}})});
}

StorePool::~StorePool() = default;

void StorePool::login(boost::asio::any_io_executor executor, std::string user, std::string password,
                      std::string client_ip, std::function<void(LoginResult)> done,
                      boost::asio::cancellation_slot cancel) {
  // Shared between the gate's callback (which owns it until it runs) and the device's cancellation
  // handler (which only looks at it): a device that leaves while queued gives its place back.
  auto ticket = std::make_shared<LoginGate::Ticket>();
  if (cancel.is_connected()) {
    cancel.assign([weak = std::weak_ptr<LoginGate::Ticket>(ticket)](boost::asio::cancellation_type) {
      if (auto t = weak.lock()) t->release();
    });
  }
  *ticket = gate_->enter(
      executor, [backend = backend_, executor, ticket, cancel, user = std::move(user), password = std::move(password),
                 client_ip = std::move(client_ip), done = std::move(done)](LoginGate::Verdict verdict) mutable {
        // From here on the check runs to its end whatever the device does (after_login sees a closed
        // device); its slot counts the store's work, not the device.
        if (cancel.is_connected()) cancel.clear();
        if (verdict != LoginGate::Verdict::admitted) {
          std::fill(password.begin(), password.end(), '\0');
          ticket->release();
          return done(LoginResult{.status = StoreStatus::unavailable, .text = "Server busy, try again", .session = {}});
        }
        auto session = std::make_shared<PooledStoreSession>(executor, backend, std::move(user));
        session->set_client_ip(std::move(client_ip));
        session->authenticate(std::move(password), [ticket, done = std::move(done)](LoginResult r) {
          ticket->release();
          done(std::move(r));
        });
      });
}

void StorePool::resume(boost::asio::any_io_executor executor, std::string user, std::string client_ip,
                       std::function<void(LoginResult)> done) {
  auto ticket = std::make_shared<LoginGate::Ticket>();
  *ticket = gate_->enter(executor, [backend = backend_, executor, ticket, user = std::move(user),
                                    client_ip = std::move(client_ip), done = std::move(done)](LoginGate::Verdict verdict) mutable {
    if (verdict != LoginGate::Verdict::admitted) {
      ticket->release();
      return done(LoginResult{.status = StoreStatus::unavailable, .text = "Server busy, try again", .session = {}});
    }
    auto session = std::make_shared<PooledStoreSession>(executor, backend, std::move(user));
    session->set_client_ip(std::move(client_ip));
    session->authenticate_as_master([ticket, done = std::move(done)](LoginResult r) {
      ticket->release();
      done(std::move(r));
    });
  });
}

}  // namespace pimap::edge
