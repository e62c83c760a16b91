#pragma once
// P-IMAP sessions (profile §3): they outlive connections and are found by user + device, so a device
// can come back to any edge within the session lifetime and resume where it left off.
//
// A session expires `lifetime` after the last contact (Open, Detach, Ack, touch): every key of the
// session carries that Redis TTL, refreshed on contact. Close (LOGOUT) ends the session and drops
// its queue; preferences survive both.
//
// Each Open increments the session's epoch. A Detach that carries an older epoch comes from a
// connection that was already replaced (the device reconnected elsewhere first): its acknowledgement
// still counts, its state (folder, view) does not overwrite the newer connection's. detach() also
// serves as a checkpoint of a connection that goes on (the edge records the device's view after an
// acknowledgement), so a device that reconnects elsewhere first still resumes from a known view.

#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/keys.hpp>
#include <pimap/sessionstore/types.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace pimap::sessionstore {

enum class SessionState { authenticated = 1, selected = 2 };

struct Session {
  std::string id;
  SessionState state = SessionState::authenticated;
  std::string folder;           // the selected folder when state == selected
  std::uint64_t acked_seq = 0;  // every event up to here reached the device
  std::uint64_t last_seq = 0;   // the last seq assigned to an event
  std::uint64_t epoch = 0;      // number of Opens so far
  std::int64_t created_ms = 0;  // Unix ms
  std::int64_t last_contact_ms = 0;
  std::string edge_id;          // the edge of the latest Open
  std::string binding;          // "tcp" | "https"
  // Edge-private view of the device saved by detach(); empty unless it reflects exactly acked_seq
  // (a later acknowledgement by an older connection, say, makes it unusable).
  std::map<std::string, std::string> view;
};

struct OpenParams {
  std::string edge_id;
  std::string binding;
};

struct OpenResult {
  Session session;
  bool resumed = false;  // false: new session, the client does a state comparison
  Pending pending;       // unacknowledged events after session.acked_seq (empty for a new session)
};

struct DetachParams {
  SessionState state = SessionState::authenticated;
  std::string folder;
  std::uint64_t acked_seq = 0;
  std::map<std::string, std::string> view;
  std::uint64_t epoch = 0;  // from the Open of this connection; 0 = do not check
  // Orders one connection's writes (they may arrive out of order): a write whose version is not above
  // the last stored for the same epoch changes nothing but the acknowledgement. 0 = always write.
  std::uint64_t view_version = 0;
  // The connection ended (a Detach, not a checkpoint): it wrote nothing past acked_seq, so events the
  // session service pushed to its edge beyond that were never told and the view is exact again.
  bool clean = false;
};

struct DetachResult {
  bool stale = false;  // an older connection's detach: only its acknowledgement was applied
};

struct SessionConfig {
  std::chrono::seconds lifetime{7 * 24 * 3600};
  std::size_t max_pending_read = 10'000;  // at most this many pending events returned by open()
};

class Sessions {
 public:
  Sessions(redis::Pool& pool, Keys keys, SessionConfig config);

  // Resumes the device's session, or creates one (first login). Clears the device's out-of-band
  // wake-up gate: it is connected again.
  Result<OpenResult> open(const DeviceKey& device, const OpenParams& params);
  Result<std::optional<Session>> lookup(const DeviceKey& device);
  // By session id (HTTPS cookie): the device the session belongs to, if the session is live.
  Result<std::optional<DeviceKey>> lookup_by_id(std::string_view session_id);
  Result<DetachResult> detach(const DeviceKey& device, std::string_view session_id, const DetachParams& params);
  // Acknowledges events up to acked_seq (capped at the last assigned seq) and trims them from the
  // queue. Acknowledgements never move backwards.
  Result<void> ack(const DeviceKey& device, std::string_view session_id, std::uint64_t acked_seq);
  // LOGOUT. Closing a device without a session succeeds (idempotent).
  Result<void> close(const DeviceKey& device, std::string_view session_id);
  // Refreshes the lifetime (the device is still connected). no_session if there is none.
  Result<void> touch(const DeviceKey& device);

  const SessionConfig& config() const noexcept { return config_; }

 private:
  redis::Pool& pool_;
  Keys keys_;
  SessionConfig config_;
};

}  // namespace pimap::sessionstore
