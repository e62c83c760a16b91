#pragma once
// The push_notification intake's logic, independent of HTTP plumbing (intake_server.hpp):
//   PUT|POST /dovecot/push   OX driver JSON        (what scripts/stack configures today)
//   POST     /dovecot/lua    dovecot/pimap-push.lua JSON (every kind of change)
// The answer is given only once every event is durably in Kafka: 200 then, 503 when Kafka did not take
// them (Dovecot logs the failed hook and does not resend; a reconcile of the user is requested before
// the 503, so the store comparison publishes the change once Kafka is back), 400 for a payload
// that will never parse (retrying it cannot help). A rejected payload is reported to on_rejected(), and
// if its user and mailboxes can be read a reconcile of them is requested before the 400, so even a
// malformed hook loses nothing.

#include "hook_payload.hpp"
#include "metrics.hpp"
#include "publisher.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pimap::store_watcher {

class Intake {
 public:
  using Respond = std::function<void(int status, std::string body)>;
  // Asks the replica owning `user` to reconcile `mailboxes` soon (durably: a Kafka record on the
  // control topic); `done` gets the outcome.
  using RequestReconcile = std::function<void(const std::string& user, const std::vector<std::string>& mailboxes,
                                              std::function<void(const kafka::Error&)> done)>;
  using Clock = std::function<std::int64_t()>;  // unix microseconds
  // A rejected payload: the driver kind, the user if it could be read ("" if not), why (names fields,
  // never quotes the payload), and the mailboxes a reconcile is requested for (maybe none).
  using Rejected = std::function<void(std::string_view kind, const std::string& user, const std::string& reason,
                                      const std::vector<std::string>& reconcile)>;

  Intake(Publisher& publisher, RequestReconcile reconcile, Metrics* metrics, Clock now)
      : publisher_(publisher), reconcile_(std::move(reconcile)), metrics_(metrics), now_(std::move(now)) {}

  void on_rejected(Rejected r) { on_rejected_ = std::move(r); }

  // `respond` runs exactly once, possibly on another thread (the Kafka delivery thread).
  void handle(std::string_view method, std::string_view target, std::string_view body, Respond respond);

 private:
  Publisher& publisher_;
  RequestReconcile reconcile_;
  Metrics* metrics_;
  Clock now_;
  Rejected on_rejected_;
};

}  // namespace pimap::store_watcher
