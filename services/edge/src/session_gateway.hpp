#pragma once
// What the edge needs from the session service (P-IMAP sessions, profile §3; preferences, §5).
// The gRPC implementation lives in session_client.*; tests can substitute their own.
// Callbacks run on the executor passed to each call.

#include <pimap/session.pb.h>

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pimap::edge {

struct DeviceRef {
  std::string user;       // store user
  std::string device_id;  // "P..."
};

struct SessionOpen {
  bool ok = false;
  std::string error;          // when !ok: why (session service unavailable ...)
  bool not_found = false;     // when !ok: opened by session id, and no live session has it
  DeviceRef device;           // whose session it is (what an open by session id learns)
  std::string session_id;
  bool resumed = false;
  bool selected = false;      // resumed in SELECTED state
  std::string folder;
  bool resync = false;
  std::string resync_folder;
  // Resume: the unacknowledged events (rendered by the edge over `view`, profile §3), and the device's
  // view saved by the edge that held it (device_view.hpp; empty = unknown).
  google::protobuf::RepeatedPtrField<v1::QueuedEvent> pending;
  std::map<std::string, std::string> view;
  std::string inband_new_format;  // PIMAP_INBAND_NEW_FORMAT; empty or NONE = no unsolicited FETCH
  bool inband_push = false;       // PIMAP_INBAND_PUSH ON: events also between commands when SELECTED
  std::uint64_t last_seq = 0;  // attach the EdgeStream after this seq
  std::uint64_t epoch = 0;     // OpenResponse.epoch: pass back in Attach / Detach
};

// What a connection records with its acknowledgement (checkpoint) or when it ends (detach): the
// device's state and view after `acked_seq`, for whichever edge resumes the session next.
struct SessionCheckpoint {
  bool selected = false;
  std::string folder;
  std::uint64_t acked_seq = 0;
  std::uint64_t epoch = 0;
  std::uint64_t view_version = 0;  // increases with every checkpoint of the connection
  std::map<std::string, std::string> view;  // empty: unknown
};

struct PrefResult {
  enum class Status { ok, bad, cannot, unavailable } status = Status::ok;
  std::string text;
  std::vector<std::pair<std::string, std::string>> prefs;
};

class SessionGateway {
 public:
  virtual ~SessionGateway() = default;
  using Exec = boost::asio::any_io_executor;

  // `device` empty and `session_id` set: resume that session, whoever's it is (an HTTPS cookie on an
  // edge that does not hold it); never creates one (SessionOpen.not_found).
  virtual void open(Exec ex, DeviceRef device, std::string binding, std::string session_id,
                    std::function<void(SessionOpen)> done) = 0;
  // The connection went away; the session and its queue live on.
  virtual void detach(DeviceRef device, std::string session_id, bool selected, std::string folder,
                      std::uint64_t acked_seq) = 0;
  // LOGOUT: the session ends and its queue is dropped.
  virtual void close(DeviceRef device, std::string session_id) = 0;
  // Every event up to `seq` reached the device: a resumed session does not replay them.
  virtual void ack(DeviceRef device, std::string session_id, std::uint64_t seq) = 0;
  // ack() that also records the device's state and view after it (the connection goes on).
  // `stored`, if given, is called (on any thread) with whether the session service took it.
  virtual void checkpoint(DeviceRef device, std::string session_id, SessionCheckpoint cp,
                          std::function<void(bool stored)> stored = {}) {
    ack(std::move(device), std::move(session_id), cp.acked_seq);
    if (stored) stored(true);
  }
  // detach() with the device's view, so the next edge can replay over it.
  virtual void detach_with(DeviceRef device, std::string session_id, SessionCheckpoint cp) {
    detach(std::move(device), std::move(session_id), cp.selected, std::move(cp.folder), cp.acked_seq);
  }

  virtual void set_preferences(Exec ex, DeviceRef device, std::vector<std::pair<std::string, std::string>> prefs,
                               std::function<void(PrefResult)> done) = 0;
  virtual void get_preferences(Exec ex, DeviceRef device, std::vector<std::string> names,
                               std::function<void(PrefResult)> done) = 0;
};

}  // namespace pimap::edge
