#pragma once
// SessionService (proto/pimap/session.proto) over the gRPC callback API. Handlers never block a
// gRPC thread: the Redis work runs on the work queue, which then finishes the call.
//
// Error contract for the edge:
//   NOT_FOUND            no live session for the device (Detach/Ack after expiry or LOGOUT)
//   FAILED_PRECONDITION  the session id is not the device's current session; for SetPreferences:
//                        a value the server will not serve (answer NO [CANNOT] <message>)
//   INVALID_ARGUMENT     malformed request; for Set/GetPreferences: a bad name or value (answer BAD)
//   UNAVAILABLE          Redis unreachable: retry, or answer NO [UNAVAILABLE]

#include "options.hpp"
#include "push_hub.hpp"
#include "session_metrics.hpp"
#include "store.hpp"
#include "work_queue.hpp"

#include <pimap/kit/log.hpp>
#include <pimap/session.grpc.pb.h>

namespace pimap::session {

class SessionRpc final : public v1::SessionService::CallbackService {
 public:
  SessionRpc(Store& store, PushHub& hub, WorkQueue& work, const Options& options, SessionMetrics& metrics,
             kit::Logger log);

  grpc::ServerUnaryReactor* Open(grpc::CallbackServerContext* ctx, const v1::OpenRequest* req,
                                 v1::OpenResponse* resp) override;
  grpc::ServerUnaryReactor* Detach(grpc::CallbackServerContext* ctx, const v1::DetachRequest* req,
                                   v1::Empty* resp) override;
  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* ctx, const v1::CloseRequest* req,
                                  v1::Empty* resp) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* ctx, const v1::AckRequest* req,
                                v1::Empty* resp) override;
  grpc::ServerUnaryReactor* SetPreferences(grpc::CallbackServerContext* ctx,
                                           const v1::SetPreferencesRequest* req, v1::Empty* resp) override;
  grpc::ServerUnaryReactor* GetPreferences(grpc::CallbackServerContext* ctx,
                                           const v1::GetPreferencesRequest* req,
                                           v1::Preferences* resp) override;
  grpc::ServerBidiReactor<v1::EdgeMessage, v1::SessionPush>* EdgeStream(grpc::CallbackServerContext* ctx) override;

 private:
  template <class Fn>
  grpc::ServerUnaryReactor* run(grpc::CallbackServerContext* ctx, const char* method, Fn&& fn);

  grpc::Status do_open(const v1::OpenRequest& req, v1::OpenResponse& resp);
  void apply_policy(const sessionstore::DeviceKey& device, const std::string& edge_id, std::uint64_t epoch);

  Store& store_;
  PushHub& hub_;
  WorkQueue& work_;
  const Options& options_;
  SessionMetrics& metrics_;
  kit::Logger log_;
};

}  // namespace pimap::session
