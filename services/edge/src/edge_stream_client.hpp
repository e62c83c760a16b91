#pragma once
// The edge's one EdgeStream to the session service (proto/pimap/session.proto): every device whose
// P-IMAP session this edge process holds is attached on it, and the session service pushes their
// events back on it (SessionPush).
//
// The stream is opened at start() with a Hello naming the edge. When it breaks (session instance
// restarting, network, the server closing it for lagging), it is reopened with exponential backoff
// and every device still registered is attached again with the last seq it was handed, so a device
// loses nothing and gets nothing twice (the session service pushes from after_seq).
//
// Delivery: each push goes to the device's connection through a small interface (PushTarget), posted
// onto the connection's executor; the registry keeps only weak references, so a connection that is
// going away is skipped instead of kept alive.
//
// Threading: attach/detach may be called from any thread; gRPC callbacks run on gRPC's threads; the
// registry and the write queue are guarded by one mutex, never held across a gRPC call.

#include "session_gateway.hpp"

#include <pimap/kit/grpc_client.hpp>
#include <pimap/kit/log.hpp>
#include <pimap/session.pb.h>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace pimap::edge {

// A device connection as the stream sees it.
class PushTarget {
 public:
  virtual ~PushTarget() = default;
  // Where on_push runs (the connection's strand / io_context).
  virtual boost::asio::any_io_executor push_executor() = 0;
  // One push for this device, in stream order. Runs on push_executor(). Taken by value: the stream
  // moves each message it read all the way to the device's queue (a push can carry hundreds of events).
  virtual void on_push(v1::SessionPush push) = 0;
};

struct EdgeStreamOptions {
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10'000};
};

class EdgeStreamClient {
 public:
  // `timers`: where reconnect timers run (the service's io_context); must outlive stop().
  EdgeStreamClient(kit::GrpcClientOptions grpc, std::string edge_id, boost::asio::any_io_executor timers,
                   kit::Logger log, EdgeStreamOptions options = {});
  ~EdgeStreamClient();
  EdgeStreamClient(const EdgeStreamClient&) = delete;
  EdgeStreamClient& operator=(const EdgeStreamClient&) = delete;

  void start();
  // Cancels the stream and stops reconnecting; returns once gRPC is done with it.
  void stop();

  // Registers the device (replacing an earlier registration of the same device) and attaches it.
  void attach(const DeviceRef& device, const std::string& session_id, std::uint64_t after_seq,
              std::uint64_t epoch, std::weak_ptr<PushTarget> target);
  // Unregisters the device if `session_id`/`epoch` is still its registration, and detaches it.
  void detach(const DeviceRef& device, const std::string& session_id, std::uint64_t epoch);

  bool connected() const;

  struct Impl;  // named by the stream reactor in the .cpp; not part of the interface

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace pimap::edge
