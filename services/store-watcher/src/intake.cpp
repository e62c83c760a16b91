#include "intake.hpp"

#include <memory>

namespace pimap::store_watcher {

void Intake::handle(std::string_view method, std::string_view target, std::string_view body, Respond respond) {
  // Dovecot's OX URL may carry a query string; only the path selects the driver.
  const std::string_view path = target.substr(0, target.find('?'));
  std::string_view kind;
  HookParse parsed;
  if (path == "/dovecot/push" || path == "/dovecot/push/") {
    if (method != "PUT" && method != "POST") {
      respond(405, "use PUT or POST\n");
      return;
    }
    kind = "ox";
    parsed = parse_ox_payload(body, now_());
  } else if (path == "/dovecot/lua") {
    if (method != "POST") {
      respond(405, "use POST\n");
      return;
    }
    kind = "lua";
    parsed = parse_lua_payload(body, now_());
  } else {
    respond(404, "not found\n");
    return;
  }
  if (!parsed.ok) {
    if (metrics_ != nullptr) metrics_->hook(kind, "bad_request");
    const auto& user = parsed.batch.user;
    const auto& mailboxes = parsed.batch.reconcile_mailboxes;
    const bool salvage = !user.empty() && !mailboxes.empty() && reconcile_;
    if (on_rejected_) on_rejected_(kind, user, parsed.error, salvage ? mailboxes : std::vector<std::string>{});
    if (!salvage) {
      respond(400, parsed.error + "\n");
      return;
    }
    // Still 400 (resending the same bytes cannot help), but only once the reconcile request is durable.
    reconcile_(user, mailboxes, [respond = std::move(respond), error = parsed.error](const kafka::Error& e) {
      respond(400, error + (e.ok() ? "; reconcile requested\n" : "; reconcile request failed: " + e.message + "\n"));
    });
    return;
  }

  auto user = parsed.batch.user;
  auto mailboxes = std::move(parsed.batch.reconcile_mailboxes);
  auto shared_respond = std::make_shared<Respond>(std::move(respond));
  auto finish = [metrics = metrics_, kind, shared_respond](const kafka::Error& e) {
    if (metrics != nullptr) metrics->hook(kind, e.ok() ? "ok" : "publish_failed");
    if (e.ok())
      (*shared_respond)(200, "ok\n");
    else
      (*shared_respond)(503, "not published: " + e.message + "\n");
  };
  publisher_.publish(std::move(parsed.batch.events),
                     [this, finish, shared_respond, kind, user = std::move(user),
                      mailboxes = std::move(mailboxes)](const kafka::Error& e) {
                       if (!e.ok() && reconcile_ && !user.empty()) {
                         // The change is in the store but its events are not in Kafka: Dovecot does not
                         // resend, so have the user's whole store compared (a rename or delete may be
                         // among them) once Kafka takes the request. If it takes nothing, the shard
                         // catch-up after the outage or the periodic reconcile finds it.
                         if (metrics_ != nullptr) metrics_->hook(kind, "publish_failed");
                         reconcile_(user, {}, [shared_respond, e](const kafka::Error& r) {
                           (*shared_respond)(503, "not published: " + e.message +
                                                      (r.ok() ? "; reconcile requested\n"
                                                              : "; reconcile request failed: " + r.message + "\n"));
                         });
                         return;
                       }
                       if (!e.ok() || mailboxes.empty() || !reconcile_) {
                         finish(e);
                         return;
                       }
                       reconcile_(user, mailboxes, finish);
                     });
}

}  // namespace pimap::store_watcher
