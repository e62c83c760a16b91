#include "pimap/kit/lifecycle.hpp"

#include <csignal>
#include <cstdlib>
#include <mutex>
#include <condition_variable>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>

namespace pimap::kit {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Shared between the lifecycle and every token it handed out, so a late done() is harmless.
struct DrainToken::State {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> names;
  std::vector<bool> finished;
  std::size_t pending = 0;
  Clock::time_point deadline;
};

void DrainToken::done() const {
  std::lock_guard lock(state_->mutex);
  if (state_->finished[index_]) return;
  state_->finished[index_] = true;
  --state_->pending;
  state_->changed.notify_all();
}

Clock::time_point DrainToken::deadline() const { return state_->deadline; }

struct Lifecycle::Impl {
  Options options;
  Logger log;
  Readiness& readiness;

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::vector<std::thread> workers;

  // Signals are handled on their own context and thread: they must be noticed while workers are busy.
  asio::io_context control{1};
  std::unique_ptr<asio::signal_set> signals;
  std::thread control_thread;
  int signals_seen = 0;

  std::mutex mutex;
  std::condition_variable requested;
  bool shutdown_requested = false;
  std::string reason;
  int exit_code = 0;
  bool ran = false;

  std::vector<std::pair<std::string, std::function<void()>>> stop_hooks;
  std::vector<std::pair<std::string, std::function<void(DrainToken)>>> drain_hooks;

  Impl(Options o, Logger l, Readiness& r) : options(o), log(std::move(l)), readiness(r) {}

  void wait_for_signal() {
    signals->async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      ++signals_seen;
      const char* name = signo == SIGTERM ? "SIGTERM" : signo == SIGINT ? "SIGINT" : "signal";
      if (signals_seen > 1) {
        log.warn("shutdown: second signal, exiting now without finishing the drain", {{"signal", name}});
        std::_Exit(1);
      }
      request(std::string("signal ") + name, 0);
      wait_for_signal();
    });
  }

  void request(std::string why, int code) {
    std::lock_guard lock(mutex);
    if (shutdown_requested) return;
    shutdown_requested = true;
    reason = std::move(why);
    exit_code = code;
    requested.notify_all();
  }

  // Last resort for a shutdown that does not end: a blocked hook or a hung destructor. Disarmed when
  // the Lifecycle is destroyed, i.e. when main() has torn the service down in time.
  std::mutex watchdog_mutex;
  std::condition_variable watchdog_cv;
  bool watchdog_disarmed = false;
  std::thread watchdog;

  void arm_watchdog(Clock::time_point started, int code) {
    auto limit = started + options.drain_timeout + options.exit_grace;
    watchdog = std::thread([this, limit, code] {
      std::unique_lock lock(watchdog_mutex);
      if (watchdog_cv.wait_until(lock, limit, [this] { return watchdog_disarmed; })) return;
      log.error("shutdown: process still running past drain_seconds + grace, forcing exit");
      std::_Exit(code);
    });
  }

  void disarm_watchdog() {
    {
      std::lock_guard lock(watchdog_mutex);
      watchdog_disarmed = true;
    }
    watchdog_cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
  }

  void run_workers() {
    for (unsigned i = 0; i < std::max(1u, options.worker_threads); ++i) {
      workers.emplace_back([this] {
        for (;;) {
          try {
            io.run();
            return;
          } catch (const std::exception& e) {
            log.error("unhandled exception in a worker; shutting down", {{"error", e.what()}});
            request("unhandled exception", 1);
          } catch (...) {
            log.error("unhandled non-standard exception in a worker; shutting down");
            request("unhandled exception", 1);
          }
        }
      });
    }
  }

  void drain(Clock::time_point started) {
    auto state = std::make_shared<DrainToken::State>();
    state->deadline = started + options.drain_timeout;
    for (const auto& [name, hook] : drain_hooks) {
      state->names.push_back(name);
      state->finished.push_back(false);
    }
    state->pending = drain_hooks.size();
    for (std::size_t i = 0; i < drain_hooks.size(); ++i) {
      DrainToken token(state, i);
      try {
        drain_hooks[i].second(token);
      } catch (const std::exception& e) {
        log.error("shutdown: drain hook threw", {{"hook", drain_hooks[i].first}, {"error", e.what()}});
        token.done();
      }
    }
    std::unique_lock lock(state->mutex);
    bool all_done = state->changed.wait_until(lock, state->deadline, [&] { return state->pending == 0; });
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    if (all_done) {
      log.info("shutdown: drained", {{"elapsed_ms", elapsed}});
      return;
    }
    std::string pending;
    for (std::size_t i = 0; i < state->names.size(); ++i)
      if (!state->finished[i]) pending += (pending.empty() ? "" : ",") + state->names[i];
    log.warn("shutdown: drain cut off at drain_seconds; work left unfinished",
             {{"pending_hooks", pending},
              {"drain_seconds", static_cast<double>(options.drain_timeout.count()) / 1000.0},
              {"elapsed_ms", elapsed}});
  }
};

Lifecycle::Lifecycle(Options options, Logger log, Readiness& readiness)
    : impl_(std::make_unique<Impl>(options, std::move(log), readiness)) {
  std::signal(SIGPIPE, SIG_IGN);
  if (options.handle_signals) {
    impl_->signals = std::make_unique<asio::signal_set>(impl_->control, SIGTERM, SIGINT);
    impl_->wait_for_signal();
    impl_->control_thread = std::thread([this] { impl_->control.run(); });
  }
}

Lifecycle::~Lifecycle() {
  impl_->disarm_watchdog();
  impl_->control.stop();
  if (impl_->control_thread.joinable()) impl_->control_thread.join();
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->workers)
    if (t.joinable()) t.join();
}

asio::io_context& Lifecycle::io() { return impl_->io; }

void Lifecycle::on_stop_accepting(std::string name, std::function<void()> hook) {
  impl_->stop_hooks.emplace_back(std::move(name), std::move(hook));
}

void Lifecycle::on_drain(std::string name, std::function<void(DrainToken)> hook) {
  impl_->drain_hooks.emplace_back(std::move(name), std::move(hook));
}

void Lifecycle::shutdown(std::string_view reason, int exit_code) { impl_->request(std::string(reason), exit_code); }

bool Lifecycle::shutting_down() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->shutdown_requested;
}

int Lifecycle::run() {
  Impl& d = *impl_;
  if (d.ran) throw std::logic_error("Lifecycle::run called twice");
  d.ran = true;
  d.run_workers();

  std::string reason;
  int code = 0;
  {
    std::unique_lock lock(d.mutex);
    d.requested.wait(lock, [&] { return d.shutdown_requested; });
    reason = d.reason;
    code = d.exit_code;
  }
  auto started = Clock::now();
  d.readiness.set_draining();
  d.log.info("shutdown: started; readyz now fails",
             {{"reason", reason}, {"drain_seconds", static_cast<double>(d.options.drain_timeout.count()) / 1000.0}});
  d.arm_watchdog(started, code);

  for (const auto& [name, hook] : d.stop_hooks) {
    try {
      hook();
    } catch (const std::exception& e) {
      d.log.error("shutdown: stop_accepting hook threw", {{"hook", name}, {"error", e.what()}});
    }
  }
  d.drain(started);

  d.work.reset();
  d.io.stop();
  for (auto& t : d.workers) t.join();
  d.workers.clear();

  d.log.info("shutdown: done", {{"exit_code", code}});
  return code;
}

}  // namespace pimap::kit
