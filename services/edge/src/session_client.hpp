#pragma once
// SessionGateway over gRPC (proto/pimap/session.proto). Calls use the gRPC callback API, so no thread
// waits on the session service; results are posted back to the caller's executor. Failures (the
// service down past the channel's retries, a deadline) come back as "unavailable", which the edge
// turns into NO [UNAVAILABLE] rather than a hang.

#include "session_gateway.hpp"

#include <pimap/kit/grpc_client.hpp>
#include <pimap/kit/log.hpp>

#include <memory>
#include <string>

namespace pimap::v1 {
class SessionService;
}

namespace pimap::edge {

class SessionClient final : public SessionGateway {
 public:
  SessionClient(kit::GrpcClientOptions options, std::string edge_id, kit::Logger log);
  ~SessionClient() override;

  void open(Exec ex, DeviceRef device, std::string binding, std::string session_id,
            std::function<void(SessionOpen)> done) override;
  void detach(DeviceRef device, std::string session_id, bool selected, std::string folder,
              std::uint64_t acked_seq) override;
  void close(DeviceRef device, std::string session_id) override;
  void ack(DeviceRef device, std::string session_id, std::uint64_t seq) override;
  void checkpoint(DeviceRef device, std::string session_id, SessionCheckpoint cp,
                  std::function<void(bool stored)> stored = {}) override;
  void detach_with(DeviceRef device, std::string session_id, SessionCheckpoint cp) override;
  void set_preferences(Exec ex, DeviceRef device, std::vector<std::pair<std::string, std::string>> prefs,
                       std::function<void(PrefResult)> done) override;
  void get_preferences(Exec ex, DeviceRef device, std::vector<std::string> names,
                       std::function<void(PrefResult)> done) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pimap::edge
