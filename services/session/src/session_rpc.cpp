#include "session_rpc.hpp"

#include "convert.hpp"
#include "edge_stream.hpp"

#include <chrono>

namespace pimap::session {
namespace {

using sessionstore::DeviceKey;
using sessionstore::StoreErrc;
using sessionstore::StoreError;

grpc::Status to_status(const StoreError& e) {
  switch (e.code) {
    case StoreErrc::no_session: return {grpc::StatusCode::NOT_FOUND, e.message};
    case StoreErrc::wrong_session: return {grpc::StatusCode::FAILED_PRECONDITION, e.message};
    case StoreErrc::invalid_argument: return {grpc::StatusCode::INVALID_ARGUMENT, e.message};
    case StoreErrc::redis: return {grpc::StatusCode::UNAVAILABLE, e.message};
    case StoreErrc::corrupt: return {grpc::StatusCode::INTERNAL, e.message};
  }
  return {grpc::StatusCode::INTERNAL, e.message};
}

DeviceKey device_of(const v1::DeviceKey& d) { return DeviceKey{d.user(), d.device_id()}; }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::NOT_FOUND: return "not_found";
    case grpc::StatusCode::FAILED_PRECONDITION: return "failed_precondition";
    case grpc::StatusCode::INVALID_ARGUMENT: return "invalid_argument";
    case grpc::StatusCode::UNAVAILABLE: return "unavailable";
    case grpc::StatusCode::CANCELLED: return "cancelled";
    default: return "other";
  }
}

}  // namespace

SessionRpc::SessionRpc(Store& store, PushHub& hub, WorkQueue& work, const Options& options,
                       SessionMetrics& metrics, kit::Logger log)
    : store_(store), hub_(hub), work_(work), options_(options), metrics_(metrics), log_(std::move(log)) {}

template <class Fn>
grpc::ServerUnaryReactor* SessionRpc::run(grpc::CallbackServerContext* ctx, const char* method, Fn&& fn) {
  auto* reactor = ctx->DefaultReactor();
  const auto start = std::chrono::steady_clock::now();
  auto task = [this, ctx, reactor, method, start, fn = std::forward<Fn>(fn)]() mutable {
    grpc::Status status =
        ctx->IsCancelled() ? grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before it ran") : fn();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    metrics_.rpc_seconds.Add({{"method", method}}, kit::Metrics::latency_buckets()).Observe(took.count());
    if (!status.ok()) {
      metrics_.rpc_errors.Add({{"method", method}, {"code", code_name(status.error_code())}}).Increment();
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) metrics_.redis_errors.Increment();
    }
    reactor->Finish(status);
  };
  if (!work_.post(std::move(task))) reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "stopping"));
  return reactor;
}

grpc::ServerUnaryReactor* SessionRpc::Open(grpc::CallbackServerContext* ctx, const v1::OpenRequest* req,
                                           v1::OpenResponse* resp) {
  return run(ctx, "open", [this, req, resp] { return do_open(*req, *resp); });
}

grpc::Status SessionRpc::do_open(const v1::OpenRequest& req, v1::OpenResponse& resp) {
  const bool by_id = !req.has_device() && !req.session_id().empty();
  DeviceKey device = device_of(req.device());
  if (by_id) {
    // A cookie alone: it resumes the session it names, or nothing. The id index may outlive a
    // session that was replaced, so the device's own session must still carry the id.
    auto found = store_.sessions.lookup_by_id(req.session_id());
    if (!found) return to_status(found.error());
    if (!*found) return {grpc::StatusCode::NOT_FOUND, "unknown or expired session"};
    auto live = store_.sessions.lookup(**found);
    if (!live) return to_status(live.error());
    if (!*live || (*live)->id != req.session_id()) return {grpc::StatusCode::NOT_FOUND, "unknown or expired session"};
    device = **found;
  }
  auto opened = store_.sessions.open(device, {req.edge_id(), req.binding()});
  if (!opened) return to_status(opened.error());
  const auto& s = opened->session;
  if (by_id && (!opened->resumed || s.id != req.session_id())) {
    // It ended between the lookup and the open: the new session is the device's next login's.
    return {grpc::StatusCode::NOT_FOUND, "unknown or expired session"};
  }
  resp.mutable_device()->set_user(device.user);
  resp.mutable_device()->set_device_id(device.device_id);
  resp.set_session_id(s.id);
  resp.set_resumed(opened->resumed);
  resp.set_epoch(s.epoch);
  resp.set_last_seq(s.last_seq);
  if (opened->resumed) {
    metrics_.resumed.Increment();
    metrics_.pending_at_resume.Observe(static_cast<double>(opened->pending.events.size()));
    resp.set_state(s.state == sessionstore::SessionState::selected ? v1::SELECTED : v1::AUTHENTICATED);
    if (s.state == sessionstore::SessionState::selected) resp.set_folder(s.folder);
    for (const auto& [k, v] : s.view) (*resp.mutable_view())[k] = v;
    for (const auto& ev : opened->pending.events) to_proto(ev, device, resp.add_pending());
    resp.set_resync(opened->pending.resync);
    resp.set_resync_folder(opened->pending.resync_folder);
    if (opened->pending.resync) metrics_.resyncs.Increment();
  } else {
    metrics_.opened.Increment();
  }
  // The edge renders events with these from the first one on; a failure only costs the defaults
  // (no unsolicited FETCH, events in IDLE only), never the login.
  static const std::string kInband[] = {"PIMAP_INBAND_NEW_FORMAT", "PIMAP_INBAND_PUSH"};
  if (auto prefs = store_.prefs.get(device, kInband)) {
    for (const auto& [name, value] : *prefs) {
      if (name == "PIMAP_INBAND_NEW_FORMAT") resp.set_inband_new_format(value);
      if (name == "PIMAP_INBAND_PUSH") resp.set_inband_push(value == "ON");
    }
  } else {
    metrics_.redis_errors.Increment();
  }
  apply_policy(device, req.edge_id(), s.epoch);
  return grpc::Status::OK;
}

// The connection limit never fails a login: a policy error is logged and the login goes on.
void SessionRpc::apply_policy(const DeviceKey& device, const std::string& edge_id, std::uint64_t epoch) {
  auto evictions = store_.policy.admit(device.user, device.device_id, edge_id, std::to_string(epoch), now_ms());
  if (!evictions) {
    metrics_.redis_errors.Increment();
    log_.warn("connection policy unavailable", {{"error", evictions.error().message}});
    return;
  }
  for (const auto& ev : *evictions) {
    const bool superseded = ev.reason == sessionstore::Eviction::Reason::superseded;
    // A device reconnecting through the same edge: that edge knows both connections itself.
    if (superseded && ev.entry.edge_id == edge_id) continue;
    (superseded ? metrics_.evictions_superseded : metrics_.evictions_limit).Increment();
    const DeviceKey victim{device.user, ev.entry.conn_id};
    // The same device through another edge is routine after an edge loss; the limit is worth seeing.
    log_.log(superseded ? kit::Level::debug : kit::Level::info,
             superseded ? "connection superseded" : "connection evicted by the per-user limit",
             {{"user", device.user}, {"device", ev.entry.conn_id}, {"edge", ev.entry.edge_id}, {"new_edge", edge_id}});
    if (auto r = store_.registry.evict(victim, ev.entry.edge_id); !r) metrics_.redis_errors.Increment();
  }
}

grpc::ServerUnaryReactor* SessionRpc::Detach(grpc::CallbackServerContext* ctx, const v1::DetachRequest* req,
                                             v1::Empty*) {
  return run(ctx, "detach", [this, req] {
    const DeviceKey device = device_of(req->device());
    sessionstore::DetachParams p;
    p.state = req->state() == v1::SELECTED ? sessionstore::SessionState::selected
                                           : sessionstore::SessionState::authenticated;
    p.folder = req->folder();
    p.acked_seq = req->acked_seq();
    p.epoch = req->epoch();
    p.view_version = req->view_version();
    p.view.insert(req->view().begin(), req->view().end());
    p.clean = true;  // the connection is over: what it did not acknowledge, it did not tell
    auto r = store_.sessions.detach(device, req->session_id(), p);
    if (!r) return to_status(r.error());
    metrics_.detached.Increment();
    if (req->epoch() != 0 && !r->stale) {
      if (auto rel = store_.policy.release(device.user, device.device_id, std::to_string(req->epoch())); !rel)
        metrics_.redis_errors.Increment();
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* SessionRpc::Close(grpc::CallbackServerContext* ctx, const v1::CloseRequest* req,
                                            v1::Empty*) {
  return run(ctx, "close", [this, req] {
    const DeviceKey device = device_of(req->device());
    auto r = store_.sessions.close(device, req->session_id());
    if (!r) return to_status(r.error());
    metrics_.closed.Increment();
    if (auto rel = store_.policy.release(device.user, device.device_id, ""); !rel) metrics_.redis_errors.Increment();
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* SessionRpc::Ack(grpc::CallbackServerContext* ctx, const v1::AckRequest* req,
                                          v1::Empty*) {
  return run(ctx, "ack", [this, req] {
    const DeviceKey device = device_of(req->device());
    if (req->checkpoint()) {
      // A Detach that keeps the connection: same atomic step (acknowledgement + state + view).
      sessionstore::DetachParams p;
      p.state = req->state() == v1::SELECTED ? sessionstore::SessionState::selected
                                             : sessionstore::SessionState::authenticated;
      p.folder = req->folder();
      p.acked_seq = req->acked_seq();
      p.epoch = req->epoch();
      p.view_version = req->view_version();
      p.view.insert(req->view().begin(), req->view().end());
      if (auto r = store_.sessions.detach(device, req->session_id(), p); !r) return to_status(r.error());
    } else if (auto r = store_.sessions.ack(device, req->session_id(), req->acked_seq()); !r) {
      return to_status(r.error());
    }
    // An acknowledgement is the device's activity: it is not the longest idle connection any more.
    if (auto m = store_.policy.mark(device.user, device.device_id, true, now_ms()); !m)
      metrics_.redis_errors.Increment();
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* SessionRpc::SetPreferences(grpc::CallbackServerContext* ctx,
                                                     const v1::SetPreferencesRequest* req, v1::Empty*) {
  return run(ctx, "set_preferences", [this, req] {
    sessionstore::PreferenceList prefs;
    for (const auto& p : req->prefs()) prefs.emplace_back(p.name(), p.value());
    auto r = store_.prefs.set(device_of(req->device()), prefs);
    if (!r) return to_status(r.error());
    switch (r->failed.outcome) {
      case sessionstore::PrefOutcome::ok: return grpc::Status::OK;
      case sessionstore::PrefOutcome::bad: return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, r->failed.reason);
      case sessionstore::PrefOutcome::cannot:
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, r->failed.reason);
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* SessionRpc::GetPreferences(grpc::CallbackServerContext* ctx,
                                                     const v1::GetPreferencesRequest* req, v1::Preferences* resp) {
  return run(ctx, "get_preferences", [this, req, resp] {
    const std::vector<std::string> names(req->names().begin(), req->names().end());
    auto r = store_.prefs.get(device_of(req->device()), names);
    if (!r) return to_status(r.error());
    for (const auto& [name, value] : *r) {
      auto* p = resp->add_prefs();
      p->set_name(name);
      p->set_value(value);
    }
    return grpc::Status::OK;
  });
}

grpc::ServerBidiReactor<v1::EdgeMessage, v1::SessionPush>* SessionRpc::EdgeStream(grpc::CallbackServerContext*) {
  return make_edge_stream(hub_, work_, options_, log_);
}

}  // namespace pimap::session
