#pragma once
// Bounds the credential checks one edge process runs against the message store at once.
//
// Every device LOGIN / AUTHENTICATE costs a fresh TLS login at the store. Unbounded, a burst of
// devices opens hundreds of store connections together, the store's login processes fall behind,
// and all of them time out at once. The gate lets at most `max_in_flight` checks run; the rest wait
// in a FIFO of at most `max_queued` places for at most `max_wait`. A check that would overflow the
// queue, or waits too long, is refused at once, so the device can be told to come back
// (`NO [UNAVAILABLE] Server busy, try again`) instead of hanging.
//
// Usage: enter() returns a Ticket and, later, calls `ready` on the executor given: `admitted` (the
// ticket now holds a slot: run the check, then release or destroy the ticket) or a refusal (the
// ticket holds nothing). Releasing a ticket that is still queued (the device went away) leaves the
// queue and `ready` is never called.
//
// Threading: enter() may be called from any thread. A ticket, and the callback, belong to the
// executor given to enter(), which must run its handlers one at a time (an io_context with one
// thread, or a strand); release it there.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace pimap::edge {

struct LoginGateOptions {
  std::size_t max_in_flight = 32;
  std::size_t max_queued = 512;
  std::chrono::milliseconds max_wait{10'000};
};

// Optional (null: not counted).
struct LoginGateMetrics {
  prometheus::Gauge* in_flight = nullptr;
  prometheus::Gauge* queued = nullptr;
  prometheus::Counter* queue_full = nullptr;  // refused: no place left in the queue
  prometheus::Counter* timed_out = nullptr;   // refused: waited max_wait
};

class LoginGate : public std::enable_shared_from_this<LoginGate> {
 public:
  enum class Verdict { admitted, queue_full, timed_out };
  using Ready = std::function<void(Verdict)>;

  struct Waiter;
  // A place in the gate: a queue place, then a running slot. Move-only; destroying it releases.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&&) noexcept = default;
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { release(); }

    // Gives back the slot (admitting the next waiter) or leaves the queue. Idempotent.
    void release();

   private:
    friend class LoginGate;
    explicit Ticket(std::shared_ptr<Waiter> w) : waiter_(std::move(w)) {}
    std::shared_ptr<Waiter> waiter_;
  };

  // Throws std::invalid_argument when max_in_flight is 0.
  static std::shared_ptr<LoginGate> create(const LoginGateOptions& options, LoginGateMetrics metrics = {});

  // `ready` runs on `executor`, never inside this call, at most once.
  Ticket enter(boost::asio::any_io_executor executor, Ready ready);

  std::size_t in_flight() const;
  std::size_t queued() const;

 private:
  LoginGate(const LoginGateOptions& options, LoginGateMetrics metrics);
  void release(const std::shared_ptr<Waiter>& w);
  void expire(const std::shared_ptr<Waiter>& w);
  // Under the lock: admits waiters while slots are free.
  void admit_locked();
  void publish_locked();

  const LoginGateOptions options_;
  const LoginGateMetrics metrics_;
  mutable std::mutex mutex_;
  std::size_t in_flight_ = 0;
  std::list<std::shared_ptr<Waiter>> queue_;
};

}  // namespace pimap::edge
