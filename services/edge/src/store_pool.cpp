#include "store_pool.hpp"

#include "store_connection.hpp"
#include "store_session.hpp"

#include <boost/asio/post.hpp>

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
}

StorePool::~StorePool() = default;

void StorePool::login(boost::asio::any_io_executor executor, std::string user, std::string password,
                      std::string client_ip, std::function<void(LoginResult)> done) {
  auto session = std::make_shared<PooledStoreSession>(executor, backend_, std::move(user));
  session->set_client_ip(std::move(client_ip));
  // Start on the session's executor even if called from elsewhere; the session never locks.
  boost::asio::post(executor, [session, password = std::move(password), done = std::move(done)]() mutable {
    session->authenticate(std::move(password), std::move(done));
  });
}

}  // namespace pimap::edge
