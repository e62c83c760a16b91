#pragma once
// What GET /readyz answers: ready only when the service is not draining and every registered check
// passes. Kubernetes stops routing to a pod whose readyz fails, so a check should fail exactly when
// this instance cannot serve new work (its store / Redis / Kafka link is down), not on transient blips.
//
// Checks run on the admin server's thread for every /readyz request: they must be cheap and must not
// block (read an atomic flag kept up to date by the component, don't ping a server). A check that
// throws counts as failing.

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pimap::kit {

class Readiness {
 public:
  struct Report {
    bool ready = false;
    bool draining = false;
    std::vector<std::string> failing;  // names of failing checks, in registration order
    // {"ready":true} / {"ready":false,"draining":true} / {"ready":false,"failing":["store"]}
    std::string to_json() const;
  };

  void add_check(std::string name, std::function<bool()> check);
  // One-way: once draining, the service never becomes ready again (it is about to exit).
  void set_draining() noexcept { draining_.store(true); }
  bool draining() const noexcept { return draining_.load(); }
  Report evaluate() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::function<bool()>>> checks_;
  std::atomic<bool> draining_{false};
};

}  // namespace pimap::kit
