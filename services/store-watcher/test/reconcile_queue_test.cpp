#include "reconcile_queue.hpp"

#include <gtest/gtest.h>

namespace pimap::store_watcher {
namespace {

using namespace std::chrono_literals;
using TP = ReconcileQueue::TimePoint;

ReconcileQueue::Options opts() {
  ReconcileQueue::Options o;
  o.initial_backoff = 1s;
  o.max_backoff = 8s;
  o.pause_after = 3;
  return o;
}

TEST(ReconcileQueue, RequestsForOneUserAreMergedIntoOneJob) {
  ReconcileQueue q(opts());
  const TP t0{};
  q.add("alice", {"INBOX"}, t0);
  q.add("alice", {"Sent", "INBOX"}, t0);
  q.add("alice", {}, t0);
  q.add("bob", {"INBOX"}, t0);
  EXPECT_EQ(q.size(), 2u);
  auto a = q.take(t0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->user, "alice");
  EXPECT_TRUE(a->all);
  EXPECT_EQ(a->mailboxes, (std::set<std::string>{"INBOX", "Sent"}));
  auto b = q.take(t0);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->user, "bob");
  EXPECT_FALSE(b->all);
  EXPECT_FALSE(q.take(t0));
}

TEST(ReconcileQueue, AFailedJobComesBackAfterABackoffThatDoublesAndIsCapped) {
  auto o = opts();
  o.pause_after = 100;  // this test is about one user's own backoff
  ReconcileQueue q(o);
  TP now{};
  q.add("alice", {"INBOX"}, now);
  auto job = q.take(now);
  std::vector<std::chrono::seconds> waits;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(job) << i;
    q.failed(std::move(*job), now);
    std::chrono::seconds waited{0};
    while (!(job = q.take(now + waited))) ASSERT_LT(++waited, 60s) << "never due again";
    EXPECT_EQ(job->mailboxes, (std::set<std::string>{"INBOX"}));
    waits.push_back(waited);
    now += waited;
  }
  EXPECT_EQ(waits, (std::vector<std::chrono::seconds>{1s, 2s, 4s, 8s, 8s, 8s}));
  q.succeeded("alice");
  q.add("alice", {}, now);
  job = q.take(now);
  ASSERT_TRUE(job);
  q.failed(std::move(*job), now);
  EXPECT_TRUE(q.take(now + 1s)) << "a success resets the user's backoff";
}

TEST(ReconcileQueue, ARequestArrivingWhileTheJobRanIsMergedIntoTheRetry) {
  ReconcileQueue q(opts());
  const TP t0{};
  q.add("alice", {"INBOX"}, t0);
  auto job = q.take(t0);
  ASSERT_TRUE(job);
  q.add("alice", {}, t0);  // while the run is on the store
  q.failed(std::move(*job), t0);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_FALSE(q.take(t0));  // the merged entry waits for the backoff too
  auto retry = q.take(t0 + 1s);
  ASSERT_TRUE(retry);
  EXPECT_TRUE(retry->all);
  EXPECT_EQ(retry->mailboxes, (std::set<std::string>{"INBOX"}));
}

TEST(ReconcileQueue, FailuresOfUserAfterUserPauseTheWholeQueue) {
  ReconcileQueue q(opts());
  const TP t0{};
  for (const char* u : {"a", "b", "c", "d"}) q.add(u, {}, t0);
  for (int i = 0; i < 3; ++i) {
    auto job = q.take(t0);
    ASSERT_TRUE(job);
    q.failed(std::move(*job), t0);
  }
  EXPECT_TRUE(q.paused(t0));
  EXPECT_FALSE(q.take(t0)) << "d must wait: the store is failing for everybody";
  EXPECT_EQ(q.size(), 4u);
  auto d = q.take(t0 + 8s);
  ASSERT_TRUE(d);
  q.succeeded(d->user);
  EXPECT_FALSE(q.paused(t0 + 8s));
}

TEST(ReconcileQueue, OneUsersFailureBetweenSuccessesDoesNotPauseOthers) {
  ReconcileQueue q(opts());
  const TP t0{};
  for (const char* u : {"a", "b", "c", "d", "e"}) q.add(u, {}, t0);
  for (int i = 0; i < 5; ++i) {
    auto job = q.take(t0);
    ASSERT_TRUE(job) << i;
    if (job->user == "a" || job->user == "c" || job->user == "e")
      q.failed(std::move(*job), t0);
    else
      q.succeeded(job->user);
  }
  EXPECT_FALSE(q.paused(t0));
  EXPECT_EQ(q.size(), 3u);
}

TEST(ReconcileQueue, DroppedUsersAreForgotten) {
  ReconcileQueue q(opts());
  const TP t0{};
  q.add("mine", {}, t0);
  q.add("moved", {}, t0);
  q.drop_if([](const std::string& u) { return u == "moved"; });
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.take(t0)->user, "mine");
  EXPECT_FALSE(q.take(t0));
}

}  // namespace
}  // namespace pimap::store_watcher
