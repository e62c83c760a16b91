#pragma once
// The server side of one EdgeStream: reads the edge's Hello/Attach/Detach messages in order (each
// handled on the work queue before the next is read, so one device's attach and detach cannot
// overtake each other) and writes the hub's SessionPush batches one at a time.

#include "options.hpp"
#include "push_hub.hpp"
#include "work_queue.hpp"

#include <grpcpp/support/server_callback.h>
#include <pimap/session.pb.h>

namespace pimap::session {

// Owned by gRPC; deletes itself when the RPC is done.
grpc::ServerBidiReactor<v1::EdgeMessage, v1::SessionPush>* make_edge_stream(PushHub& hub, WorkQueue& work,
                                                                            const Options& options,
                                                                            kit::Logger log);

}  // namespace pimap::session
