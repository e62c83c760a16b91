#include "login_gate.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <optional>
#include <stdexcept>
#include <utility>

namespace pimap::edge {

struct LoginGate::Waiter {
  enum class State { queued, admitted, refused, released };

  std::shared_ptr<LoginGate> gate;
  boost::asio::any_io_executor executor;
  Ready ready;
  State state = State::queued;
  std::list<std::shared_ptr<Waiter>>::iterator pos;
  std::chrono::steady_clock::time_point deadline;
  // Only while queued, and only touched on `executor` (timers are not thread-safe).
  std::optional<boost::asio::steady_timer> timer;
};

namespace {

using State = LoginGate::Waiter::State;

// Runs on the waiter's executor: hands `verdict` to the callback unless the ticket was released
// (or the verdict superseded) meanwhile.
void deliver(const std::shared_ptr<LoginGate::Waiter>& w, std::mutex& mutex, State expected,
             LoginGate::Verdict verdict) {
  LoginGate::Ready ready;
  {
    std::lock_guard lock(mutex);
    if (w->state != expected) return;
    ready = std::move(w->ready);
    w->ready = nullptr;
  }
  if (w->timer) w->timer->cancel();
  if (ready) ready(verdict);
}

}  // namespace

LoginGate::Ticket& LoginGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    waiter_ = std::move(other.waiter_);
  }
  return *this;
}

void LoginGate::Ticket::release() {
  if (auto w = std::exchange(waiter_, nullptr)) w->gate->release(w);
}

std::shared_ptr<LoginGate> LoginGate::create(const LoginGateOptions& options, LoginGateMetrics metrics) {
  if (options.max_in_flight == 0) throw std::invalid_argument("login gate: max_in_flight must be at least 1");
  return std::shared_ptr<LoginGate>(new LoginGate(options, metrics));
}

LoginGate::LoginGate(const LoginGateOptions& options, LoginGateMetrics metrics)
    : options_(options), metrics_(metrics) {}

LoginGate::Ticket LoginGate::enter(boost::asio::any_io_executor executor, Ready ready) {
  auto w = std::make_shared<Waiter>();
  w->gate = shared_from_this();
  w->executor = executor;
  w->ready = std::move(ready);
  std::lock_guard lock(mutex_);
  if (in_flight_ < options_.max_in_flight && queue_.empty()) {
    w->state = State::admitted;
    ++in_flight_;
    publish_locked();
    boost::asio::post(executor, [w, &m = mutex_] { deliver(w, m, State::admitted, Verdict::admitted); });
  } else if (queue_.size() >= options_.max_queued) {
    w->state = State::refused;
    if (metrics_.queue_full) metrics_.queue_full->Increment();
    boost::asio::post(executor, [w, &m = mutex_] { deliver(w, m, State::refused, Verdict::queue_full); });
  } else {
    w->state = State::queued;
    w->deadline = std::chrono::steady_clock::now() + options_.max_wait;
    w->pos = queue_.insert(queue_.end(), w);
    publish_locked();
    // The timer is created on the waiter's own executor; it may already have been admitted by then.
    boost::asio::post(executor, [w, &m = mutex_] {
      {
        std::lock_guard guard(m);
        if (w->state != State::queued) return;
      }
      w->timer.emplace(w->executor, w->deadline);
      w->timer->async_wait([w](boost::system::error_code ec) {
        if (!ec) w->gate->expire(w);
      });
    });
  }
  return Ticket(std::move(w));
}

void LoginGate::expire(const std::shared_ptr<Waiter>& w) {
  Ready ready;
  {
    std::lock_guard lock(mutex_);
    if (w->state != State::queued) return;
    queue_.erase(w->pos);
    w->state = State::refused;
    ready = std::move(w->ready);
    w->ready = nullptr;
    if (metrics_.timed_out) metrics_.timed_out->Increment();
    publish_locked();
  }
  if (ready) ready(Verdict::timed_out);
}

void LoginGate::release(const std::shared_ptr<Waiter>& w) {
  Ready dropped;  // destroyed outside the lock: it may own the device connection
  {
    std::lock_guard lock(mutex_);
    switch (w->state) {
      case State::queued: queue_.erase(w->pos); break;
      case State::admitted:
        --in_flight_;
        admit_locked();
        break;
      case State::refused: break;
      case State::released: return;
    }
    w->state = State::released;
    dropped = std::move(w->ready);
    w->ready = nullptr;
    publish_locked();
  }
  if (w->timer) w->timer->cancel();
}

void LoginGate::admit_locked() {
  while (in_flight_ < options_.max_in_flight && !queue_.empty()) {
    auto w = std::move(queue_.front());
    queue_.pop_front();
    w->state = State::admitted;
    ++in_flight_;
    boost::asio::post(w->executor, [w, &m = mutex_] { deliver(w, m, State::admitted, Verdict::admitted); });
  }
}

void LoginGate::publish_locked() {
  if (metrics_.in_flight) metrics_.in_flight->Set(static_cast<double>(in_flight_));
  if (metrics_.queued) metrics_.queued->Set(static_cast<double>(queue_.size()));
}

std::size_t LoginGate::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

std::size_t LoginGate::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace pimap::edge
