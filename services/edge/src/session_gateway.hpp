#pragma once
// What the edge needs from the session service (P-IMAP sessions, profile §3; preferences, §5).
// The gRPC implementation lives in session_client.*; tests can substitute their own.
// Callbacks run on the executor passed to each call.

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
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
  std::string session_id;
  bool resumed = false;
  bool selected = false;      // resumed in SELECTED state
  std::string folder;
  bool resync = false;
  std::string resync_folder;
  std::vector<std::string> pending_lines;  // queued events already rendered as untagged lines (CRLF)
  std::uint64_t last_seq = 0;  // attach the EdgeStream after this seq
  std::uint64_t epoch = 0;     // OpenResponse.epoch: pass back in Attach / Detach
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

  virtual void open(Exec ex, DeviceRef device, std::string binding, std::string session_id,
                    std::function<void(SessionOpen)> done) = 0;
  // The connection went away; the session and its queue live on.
  virtual void detach(DeviceRef device, std::string session_id, bool selected, std::string folder,
                      std::uint64_t acked_seq) = 0;
  // LOGOUT: the session ends and its queue is dropped.
  virtual void close(DeviceRef device, std::string session_id) = 0;
  // Every event up to `seq` reached the device: a resumed session does not replay them.
  virtual void ack(DeviceRef device, std::string session_id, std::uint64_t seq) = 0;

  virtual void set_preferences(Exec ex, DeviceRef device, std::vector<std::pair<std::string, std::string>> prefs,
                               std::function<void(PrefResult)> done) = 0;
  virtual void get_preferences(Exec ex, DeviceRef device, std::vector<std::string> names,
                               std::function<void(PrefResult)> done) = 0;
};

}  // namespace pimap::edge
