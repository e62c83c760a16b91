#pragma once
// The edge's StoreGateway: Dovecot over implicit TLS, one backend connection per device session at
// most, opened on demand and closed after an idle time (see store_session.hpp for how a session
// keeps the device's sequence numbers right across connections).
//
// login() checks the user's password with a LOGIN as that user (the store stays the only keeper of
// credentials); the connection then serves the session. Later connections log in as
// `user<separator>master` with the master user's password, so the edge never needs the user's
// password again. A store that does not answer within connect_timeout (connect, TLS, greeting and
// login together) or command_timeout (silence during a command) makes the operation fail as
// unavailable, which the device sees as `NO [UNAVAILABLE]` instead of a hang.
//
// Metrics: pimap_edge_backend_connections (open backend sockets), pimap_edge_backend_commands_total
// {result=ok|no|bad|unavailable} (every command sent to the store, the session's own included),
// pimap_edge_backend_connect_seconds (connect to logged in, successful ones),
// pimap_edge_login_checks_in_flight / _queued (gauges) and pimap_edge_login_checks_refused_total
// {reason=queue_full|timed_out}.
//
// Credential checks pass a LoginGate first: at most max_concurrent_logins run at the store, up to
// max_queued_logins wait in order for at most login_queue_timeout; any other is answered
// `unavailable` with the text "Server busy, try again" without touching the store.
//
// Thread-safe: login() may be called from any io thread; each session lives on the executor given.

#include "login_gate.hpp"
#include "store_gateway.hpp"

#include <pimap/kit/log.hpp>
#include <pimap/kit/metrics.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace pimap::edge {

struct StoreBackend;

struct StorePoolOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 993;
  std::string server_name = "localhost";  // the store certificate's name (SNI + verification)
  std::string ca_file;                    // empty: the system's trust store
  std::string master_user;
  std::string master_password;
  std::string master_separator = "*";     // Dovecot auth_master_user_separator
  std::chrono::milliseconds connect_timeout{5'000};
  // A credential check: the store may delay a failed login on purpose (Dovecot: 2 s plus a growing
  // per-address penalty up to 15 s), so this bound sits above that.
  std::chrono::milliseconds login_timeout{20'000};
  std::chrono::milliseconds command_timeout{5'000};
  std::chrono::milliseconds idle_timeout{30'000};  // a parked backend connection lives this long
  // Credential checks running at the store at once, and how many may wait for one (login_gate.hpp).
  std::size_t max_concurrent_logins = 32;
  std::size_t max_queued_logins = 512;
  std::chrono::milliseconds login_queue_timeout{10'000};
};

class StorePool final : public StoreGateway {
 public:
  // Throws std::runtime_error when the CA file cannot be loaded.
  StorePool(const StorePoolOptions& options, kit::Metrics& metrics, const kit::Logger& log);
  ~StorePool() override;

  void login(boost::asio::any_io_executor executor, std::string user, std::string password,
             std::string client_ip, std::function<void(LoginResult)> done,
             boost::asio::cancellation_slot cancel = {}) override;
  // Through the master user, behind the same LoginGate as login().
  void resume(boost::asio::any_io_executor executor, std::string user, std::string client_ip,
              std::function<void(LoginResult)> done) override;

 private:
  std::shared_ptr<const StoreBackend> backend_;
  std::shared_ptr<LoginGate> gate_;
};

}  // namespace pimap::edge
