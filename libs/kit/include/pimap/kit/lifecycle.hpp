#pragma once
// Running and stopping a service: the worker threads, signals, and the graceful shutdown sequence.
//
// On SIGTERM or SIGINT (or shutdown() called by the service itself):
//   1. readiness goes to draining, so /readyz answers 503 at once and Kubernetes stops routing here;
//   2. every stop_accepting hook runs, in registration order (close listeners, health NOT_SERVING);
//   3. every drain hook is started with a DrainToken and calls token.done() when its in-flight work has
//      finished (connections closed, queues flushed); hooks must not block, they start the work and
//      return;
//   4. when all tokens are done, or when `drain_timeout` (key shutdown.drain_seconds) has passed, the
//      workers are stopped and run() returns the exit code: 0, also when the drain was cut off (a warning
//      names the hooks that had not finished).
// A second SIGTERM/SIGINT during the drain exits at once with code 1. As a last resort, a process still
// alive `drain_timeout + exit_grace` after the shutdown began (a hook blocked, a destructor hung) is
// ended with _exit by a watchdog, so the bound holds whatever the service code does.
//
// Hooks run on the thread that called run(), not on a worker: touching objects that belong to a strand
// or to the io_context means posting to it. Signal handling has its own thread, so it works while every
// worker is busy.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "pimap/kit/log.hpp"
#include "pimap/kit/readiness.hpp"

namespace pimap::kit {

// Handed to a drain hook; done() reports its work finished. Copyable, callable from any thread, any
// number of times (only the first counts), also after the drain was cut off (then it does nothing).
class DrainToken {
 public:
  void done() const;
  // When the drain will be cut off; a hook may pass this on (e.g. gRPC Server::Shutdown(deadline)).
  std::chrono::steady_clock::time_point deadline() const;

 private:
  friend class Lifecycle;
  struct State;
  DrainToken(std::shared_ptr<State> state, std::size_t index) : state_(std::move(state)), index_(index) {}
  std::shared_ptr<State> state_;
  std::size_t index_;
};

class Lifecycle {
 public:
  struct Options {
    unsigned worker_threads = 2;
    std::chrono::milliseconds drain_timeout = std::chrono::seconds(25);
    std::chrono::milliseconds exit_grace = std::chrono::seconds(3);
    bool handle_signals = true;  // off in tests that run several lifecycles in one process
  };

  // Starts listening for SIGTERM/SIGINT immediately (a signal before run() is acted on when run()
  // starts) and ignores SIGPIPE, which would otherwise kill the process on a write to a closed socket.
  Lifecycle(Options options, Logger log, Readiness& readiness);
  ~Lifecycle();
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

  // The io_context the worker threads run. Components put their sockets and timers here.
  boost::asio::io_context& io();

  // Register before run(). `name` appears in the shutdown log (and in the warning for unfinished hooks).
  void on_stop_accepting(std::string name, std::function<void()> hook);
  void on_drain(std::string name, std::function<void(DrainToken)> hook);

  // Runs the workers and blocks until the shutdown sequence has finished; returns the exit code.
  // Call once. An exception escaping a handler on a worker is logged and shuts the service down with
  // exit code 1 (state it left behind cannot be trusted).
  int run();

  // Starts the shutdown sequence as SIGTERM does. Thread safe; only the first call's code counts.
  void shutdown(std::string_view reason, int exit_code = 0);
  bool shutting_down() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pimap::kit
