#include "reconcile_queue.hpp"

#include <algorithm>

namespace pimap::store_watcher {

std::chrono::milliseconds ReconcileQueue::backoff(int failures) const {
  auto d = options_.initial_backoff;
  for (int i = 1; i < failures && d < options_.max_backoff; ++i) d *= 2;
  return std::min(d, options_.max_backoff);
}

void ReconcileQueue::schedule(Entry entry) {
  by_due_.emplace(entry.due, entry.job.user);
  entries_.emplace(entry.job.user, std::move(entry));
}

void ReconcileQueue::add(const std::string& user, const std::vector<std::string>& mailboxes, TimePoint now) {
  auto it = entries_.find(user);
  if (it == entries_.end()) {
    Entry e;
    e.job.user = user;
    e.due = now;
    if (auto f = failures_.find(user); f != failures_.end()) e.failures = f->second;
    it = entries_.emplace(user, std::move(e)).first;
    by_due_.emplace(now, user);
  }
  Job& job = it->second.job;
  if (mailboxes.empty())
    job.all = true;
  else
    job.mailboxes.insert(mailboxes.begin(), mailboxes.end());
}

std::optional<ReconcileQueue::Job> ReconcileQueue::take(TimePoint now) {
  if (paused(now) || by_due_.empty() || by_due_.begin()->first > now) return std::nullopt;
  const std::string user = by_due_.begin()->second;
  by_due_.erase(by_due_.begin());
  auto it = entries_.find(user);
  Job job = std::move(it->second.job);
  failures_[user] = it->second.failures;
  entries_.erase(it);
  return job;
}

void ReconcileQueue::succeeded(const std::string& user) {
  failures_.erase(user);
  consecutive_failures_ = 0;
}

void ReconcileQueue::failed(Job job, TimePoint now) {
  int failures = 1;
  if (auto f = failures_.find(job.user); f != failures_.end()) {
    failures = f->second + 1;
    failures_.erase(f);
  }
  const auto delay = backoff(failures);
  if (++consecutive_failures_ >= options_.pause_after) paused_until_ = now + backoff(consecutive_failures_);

  auto it = entries_.find(job.user);
  if (it != entries_.end()) {  // requested again while it ran: merge, keep the later of the two due times
    Entry& e = it->second;
    e.job.all = e.job.all || job.all;
    e.job.mailboxes.insert(job.mailboxes.begin(), job.mailboxes.end());
    e.failures = failures;
    if (e.due < now + delay) {
      by_due_.erase({e.due, e.job.user});
      e.due = now + delay;
      by_due_.emplace(e.due, e.job.user);
    }
    return;
  }
  Entry e;
  e.job = std::move(job);
  e.due = now + delay;
  e.failures = failures;
  schedule(std::move(e));
}

void ReconcileQueue::drop_if(const std::function<bool(const std::string&)>& gone) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (gone(it->first)) {
      by_due_.erase({it->second.due, it->first});
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace pimap::store_watcher
