#include "session_client.hpp"

#include <pimap/session.grpc.pb.h>

#include <boost/asio/post.hpp>

namespace pimap::edge {

namespace v1 = pimap::v1;

struct SessionClient::Impl {
  kit::GrpcClient client;
  std::unique_ptr<v1::SessionService::Stub> stub;
  std::string edge_id;
  kit::Logger log;

  Impl(kit::GrpcClientOptions o, std::string id, kit::Logger l)
      : client(std::move(o)), stub(client.stub<v1::SessionService>()), edge_id(std::move(id)), log(std::move(l)) {}

  // One in-flight unary call: owns its context and messages until the callback has run.
  template <class Req, class Resp>
  struct Call {
    grpc::ClientContext ctx;
    Req req;
    Resp resp;
  };

  static void fill(v1::DeviceKey* k, const DeviceRef& d) {
    k->set_user(d.user);
    k->set_device_id(d.device_id);
  }
};

SessionClient::SessionClient(kit::GrpcClientOptions options, std::string edge_id, kit::Logger log)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(edge_id), std::move(log))) {}

SessionClient::~SessionClient() = default;

void SessionClient::open(Exec ex, DeviceRef device, std::string binding, std::string session_id,
                         std::function<void(SessionOpen)> done) {
  auto call = std::make_shared<Impl::Call<v1::OpenRequest, v1::OpenResponse>>();
  impl_->client.prepare(call->ctx);
  if (!device.user.empty()) Impl::fill(call->req.mutable_device(), device);
  call->req.set_edge_id(impl_->edge_id);
  call->req.set_binding(binding);
  call->req.set_session_id(session_id);
  impl_->stub->async()->Open(&call->ctx, &call->req, &call->resp,
                             [call, ex, done = std::move(done), log = impl_->log](grpc::Status st) mutable {
                               SessionOpen out;
                               if (st.ok()) {
                                 const auto& r = call->resp;
                                 out.ok = true;
                                 out.session_id = r.session_id();
                                 out.resumed = r.resumed();
                                 out.selected = r.state() == v1::SELECTED;
                                 out.folder = r.folder();
                                 out.resync = r.resync();
                                 out.resync_folder = r.resync_folder();
                                 // Without pending events the stream starts after the last seq; with
                                 // some (possibly capped) after the last one handed over here.
                                 out.last_seq = r.pending().empty() ? r.last_seq() : 0;
                                 for (const auto& e : r.pending()) out.last_seq = std::max(out.last_seq, e.seq());
                                 out.epoch = r.epoch();
                                 out.pending = r.pending();
                                 out.view.insert(r.view().begin(), r.view().end());
                                 out.inband_new_format = r.inband_new_format();
                                 out.inband_push = r.inband_push();
                                 out.device = DeviceRef{r.device().user(), r.device().device_id()};
                               } else {
                                 out.error = st.error_message();
                                 out.not_found = st.error_code() == grpc::StatusCode::NOT_FOUND;
                                 log.warn("session open failed", {{"code", static_cast<int>(st.error_code())},
                                                                  {"error", st.error_message()}});
                               }
                               boost::asio::post(ex, [done = std::move(done), out = std::move(out)]() mutable {
                                 done(std::move(out));
                               });
                             });
}

void SessionClient::detach(DeviceRef device, std::string session_id, bool selected, std::string folder,
                           std::uint64_t acked_seq) {
  auto call = std::make_shared<Impl::Call<v1::DetachRequest, v1::Empty>>();
  impl_->client.prepare(call->ctx);
  call->req.set_session_id(session_id);
  Impl::fill(call->req.mutable_device(), device);
  call->req.set_state(selected ? v1::SELECTED : v1::AUTHENTICATED);
  call->req.set_folder(folder);
  call->req.set_acked_seq(acked_seq);
  impl_->stub->async()->Detach(&call->ctx, &call->req, &call->resp, [call, log = impl_->log](grpc::Status st) {
    if (!st.ok()) log.warn("session detach failed", {{"error", st.error_message()}});
  });
}

void SessionClient::close(DeviceRef device, std::string session_id) {
  auto call = std::make_shared<Impl::Call<v1::CloseRequest, v1::Empty>>();
  impl_->client.prepare(call->ctx);
  call->req.set_session_id(session_id);
  Impl::fill(call->req.mutable_device(), device);
  impl_->stub->async()->Close(&call->ctx, &call->req, &call->resp, [call, log = impl_->log](grpc::Status st) {
    if (!st.ok()) log.warn("session close failed", {{"error", st.error_message()}});
  });
}

void SessionClient::ack(DeviceRef device, std::string session_id, std::uint64_t seq) {
  auto call = std::make_shared<Impl::Call<v1::AckRequest, v1::Empty>>();
  impl_->client.prepare(call->ctx);
  call->req.set_session_id(session_id);
  Impl::fill(call->req.mutable_device(), device);
  call->req.set_acked_seq(seq);
  impl_->stub->async()->Ack(&call->ctx, &call->req, &call->resp, [call, log = impl_->log](grpc::Status st) {
    // Only costs a replay of already delivered events on the next resume.
    if (!st.ok()) log.warn("session ack failed", {{"error", st.error_message()}});
  });
}

void SessionClient::checkpoint(DeviceRef device, std::string session_id, SessionCheckpoint cp,
                               std::function<void(bool stored)> stored) {
  auto call = std::make_shared<Impl::Call<v1::AckRequest, v1::Empty>>();
  impl_->client.prepare(call->ctx);
  call->req.set_session_id(session_id);
  Impl::fill(call->req.mutable_device(), device);
  call->req.set_acked_seq(cp.acked_seq);
  call->req.set_checkpoint(true);
  call->req.set_state(cp.selected ? v1::SELECTED : v1::AUTHENTICATED);
  call->req.set_folder(cp.folder);
  call->req.set_epoch(cp.epoch);
  call->req.set_view_version(cp.view_version);
  call->req.mutable_view()->insert(cp.view.begin(), cp.view.end());
  impl_->stub->async()->Ack(&call->ctx, &call->req, &call->resp,
                            [call, log = impl_->log, stored = std::move(stored)](grpc::Status st) {
    // Until one lands, the next resume elsewhere replays delivered events (the caller retries).
    if (!st.ok()) log.warn("session checkpoint failed", {{"error", st.error_message()}});
    if (stored) stored(st.ok());
  });
}

void SessionClient::detach_with(DeviceRef device, std::string session_id, SessionCheckpoint cp) {
  auto call = std::make_shared<Impl::Call<v1::DetachRequest, v1::Empty>>();
  impl_->client.prepare(call->ctx);
  call->req.set_session_id(session_id);
  Impl::fill(call->req.mutable_device(), device);
  call->req.set_state(cp.selected ? v1::SELECTED : v1::AUTHENTICATED);
  call->req.set_folder(cp.folder);
  call->req.set_acked_seq(cp.acked_seq);
  call->req.set_epoch(cp.epoch);
  call->req.set_view_version(cp.view_version);
  call->req.mutable_view()->insert(cp.view.begin(), cp.view.end());
  impl_->stub->async()->Detach(&call->ctx, &call->req, &call->resp, [call, log = impl_->log](grpc::Status st) {
    if (!st.ok()) log.warn("session detach failed", {{"error", st.error_message()}});
  });
}

namespace {
// The session service reports preference validation as INVALID_ARGUMENT (BAD) or
// FAILED_PRECONDITION (NO [CANNOT]) with the reason as the message.
PrefResult pref_error(const grpc::Status& st) {
  PrefResult r;
  r.text = st.error_message();
  if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    r.status = PrefResult::Status::bad;
  } else if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    r.status = PrefResult::Status::cannot;
  } else {
    r.status = PrefResult::Status::unavailable;
  }
  return r;
}
}  // namespace

void SessionClient::set_preferences(Exec ex, DeviceRef device, std::vector<std::pair<std::string, std::string>> prefs,
                                    std::function<void(PrefResult)> done) {
  auto call = std::make_shared<Impl::Call<v1::SetPreferencesRequest, v1::Empty>>();
  impl_->client.prepare(call->ctx);
  Impl::fill(call->req.mutable_device(), device);
  for (auto& [n, v] : prefs) {
    auto* p = call->req.add_prefs();
    p->set_name(n);
    p->set_value(v);
  }
  impl_->stub->async()->SetPreferences(&call->ctx, &call->req, &call->resp,
                                       [call, ex, done = std::move(done)](grpc::Status st) mutable {
                                         PrefResult r = st.ok() ? PrefResult{} : pref_error(st);
                                         boost::asio::post(ex, [done = std::move(done), r = std::move(r)]() mutable {
                                           done(std::move(r));
                                         });
                                       });
}

void SessionClient::get_preferences(Exec ex, DeviceRef device, std::vector<std::string> names,
                                    std::function<void(PrefResult)> done) {
  auto call = std::make_shared<Impl::Call<v1::GetPreferencesRequest, v1::Preferences>>();
  impl_->client.prepare(call->ctx);
  Impl::fill(call->req.mutable_device(), device);
  for (auto& n : names) call->req.add_names(n);
  impl_->stub->async()->GetPreferences(&call->ctx, &call->req, &call->resp,
                                       [call, ex, done = std::move(done)](grpc::Status st) mutable {
                                         PrefResult r = st.ok() ? PrefResult{} : pref_error(st);
                                         if (st.ok()) {
                                           for (const auto& p : call->resp.prefs()) r.prefs.emplace_back(p.name(), p.value());
                                         }
                                         boost::asio::post(ex, [done = std::move(done), r = std::move(r)]() mutable {
                                           done(std::move(r));
                                         });
                                       });
}

}  // namespace pimap::edge
