#include "wakeup_sender.hpp"

#include <algorithm>

namespace pimap::notifier {

WakeupSender::WakeupSender(HttpTransport& transport, DeliveryOptions options, Metrics& metrics, kit::Logger log)
    : transport_(transport), options_(options), metrics_(metrics), log_(std::move(log)) {
  thread_ = std::thread([this] { run(); });
}

WakeupSender::~WakeupSender() {
  stop(Clock::now());
  if (thread_.joinable()) thread_.join();
}

bool WakeupSender::submit(WakeupJob job) {
  std::size_t size = 0;
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < options_.max_queued) {
      queue_.push(Pending{Clock::now(), 0, next_order_++, std::move(job)});
      size = queue_.size();
    } else {
      size = 0;
    }
  }
  if (size == 0) {
    metrics_.wakeup(job.channel, WakeOutcome::failed);
    log_.warn("wake-up dropped: send queue full or stopping",
              {{"user", job.user}, {"device", job.device_id}, {"channel", to_string(job.channel)}});
    return false;
  }
  metrics_.set_wakeups_queued(static_cast<double>(size));
  cv_.notify_one();
  return true;
}

void WakeupSender::stop(Clock::time_point deadline) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    stop_deadline_ = deadline;
  }
  cv_.notify_all();
}

std::size_t WakeupSender::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void WakeupSender::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (stopping_ && (queue_.empty() || Clock::now() >= stop_deadline_)) break;
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto due = queue_.top().due;
    const auto wake = stopping_ ? std::min(due, stop_deadline_) : due;
    if (Clock::now() < wake) {
      cv_.wait_until(lock, wake);
      continue;
    }
    if (stopping_ && due > stop_deadline_) break;  // only retries beyond the deadline are left
    Pending p = queue_.top();
    queue_.pop();
    lock.unlock();
    attempt(std::move(p));
    lock.lock();
    metrics_.set_wakeups_queued(static_cast<double>(queue_.size()));
  }
  // Whatever is left was not sent.
  while (!queue_.empty()) {
    const auto& p = queue_.top();
    metrics_.wakeup(p.job.channel, WakeOutcome::failed);
    log_.warn("wake-up not sent before shutdown", {{"user", p.job.user}, {"device", p.job.device_id},
                                                    {"channel", to_string(p.job.channel)}});
    queue_.pop();
  }
  metrics_.set_wakeups_queued(0);
}

void WakeupSender::attempt(Pending p) {
  const HttpResult r = transport_.send(p.job.request);
  const Verdict v = p.job.channel == Channel::sms ? classify_sendsms(r) : classify_pap(r);
  ++p.attempt;
  const std::string what = r.ok ? "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200) : r.error;
  if (v == Verdict::sent) {
    metrics_.wakeup(p.job.channel, WakeOutcome::sent);
    log_.info("wake-up sent", {{"user", p.job.user}, {"device", p.job.device_id},
                               {"channel", to_string(p.job.channel)}, {"attempt", p.attempt}});
    return;
  }
  if (v == Verdict::retry && p.attempt < options_.max_attempts) {
    auto backoff = options_.initial_backoff;
    for (int i = 1; i < p.attempt && backoff < options_.max_backoff; ++i) backoff *= 2;
    backoff = std::min(backoff, options_.max_backoff);
    log_.warn("wake-up gateway failed; retrying", {{"user", p.job.user}, {"device", p.job.device_id},
                                                    {"channel", to_string(p.job.channel)}, {"attempt", p.attempt},
                                                    {"retry_in_ms", static_cast<std::int64_t>(backoff.count())},
                                                    {"error", what}});
    p.due = Clock::now() + backoff;
    {
      std::lock_guard lock(mu_);
      queue_.push(std::move(p));
    }
    return;
  }
  metrics_.wakeup(p.job.channel, WakeOutcome::failed);
  log_.error("wake-up failed", {{"user", p.job.user}, {"device", p.job.device_id},
                                {"channel", to_string(p.job.channel)}, {"attempt", p.attempt},
                                {"permanent", v == Verdict::permanent}, {"error", what}});
}

}  // namespace pimap::notifier
