#include <pimap/sessionstore/sessions.hpp>

#include <pimap/sessionstore/device_index.hpp>
#include <pimap/sessionstore/session_id.hpp>

#include "scripts.hpp"
#include "store_util.hpp"

namespace pimap::sessionstore {
namespace {

Session to_session(std::map<std::string, std::string> h, std::map<std::string, std::string> view) {
  Session s;
  s.id = h["id"];
  s.state = h["st"] == "2" ? SessionState::selected : SessionState::authenticated;
  s.folder = h["f"];
  s.acked_seq = detail::to_u64(h["ack"]);
  s.last_seq = detail::to_u64(h["seq"]);
  s.epoch = detail::to_u64(h["ep"]);
  s.created_ms = static_cast<std::int64_t>(detail::to_u64(h["ct"]));
  s.last_contact_ms = static_cast<std::int64_t>(detail::to_u64(h["lc"]));
  s.edge_id = h["edge"];
  s.binding = h["bind"];
  // Bookkeeping fields (see scripts::detach) stay here. The view is handed out only when it reflects
  // exactly the acknowledged seq: the pending events are then what the device has not seen of it.
  // And only when no event past it was pushed to an edge that may have told it and died before
  // acknowledging (`ps`, scripts::mark_pushed): the device may hold those, so nothing can be replayed
  // over the view exactly; the resume is a scoped RESYNC instead of a possible repeat.
  const auto reflects = view.find("_s");
  const bool current = reflects != view.end() && detail::to_u64(reflects->second) == s.acked_seq &&
                       detail::to_u64(h["ps"]) <= s.acked_seq;
  for (auto it = view.begin(); it != view.end();) {
    if (current && !it->first.starts_with('_')) ++it;
    else it = view.erase(it);
  }
  s.view = std::move(view);
  return s;
}

std::string sid_value(const DeviceKey& d) { return d.user + "\n" + d.device_id; }

StoreError script_status_error(long long code) {
  if (code == -1) return StoreError{StoreErrc::no_session, "no session for this device", false};
  return StoreError{StoreErrc::wrong_session, "session id does not match the device's session", false};
}

}  // namespace

Sessions::Sessions(redis::Pool& pool, Keys keys, SessionConfig config)
    : pool_(pool), keys_(std::move(keys)), config_(config) {}

Result<OpenResult> Sessions::open(const DeviceKey& device, const OpenParams& params) {
  if (auto v = validate(device); !v) return v.error();
  // Announced to the notifier before the session exists (and again after it, see DeviceIndex), so
  // no event can find the session without finding the device.
  DeviceIndex index(pool_, keys_);
  if (auto added = index.add(device); !added) return added.error();
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string new_id = generate_session_id();
  const std::string now = std::to_string(detail::now_ms());
  const std::string ttl = std::to_string(std::chrono::milliseconds(config_.lifetime).count());
  const std::string max = std::to_string(config_.max_pending_read);
  const std::string keys[] = {keys_.session(device), keys_.view(device), keys_.queue(device),
                              keys_.dedupe(device), keys_.wake_gate(device)};
  const std::string_view kv[] = {keys[0], keys[1], keys[2], keys[3], keys[4]};
  const std::string_view args[] = {new_id, now, ttl, params.edge_id, params.binding, max};
  auto reply = scripts::open().run(**lease, kv, args, redis::Retry::if_stale);
  if (!reply) return from_redis(reply.error());
  const auto& e = reply->elements();
  if (e.size() != 4) return detail::corrupt("open: unexpected reply " + reply->debug_string());

  OpenResult result;
  result.resumed = e[0].integer() == 1;
  result.session = to_session(detail::to_map(e[1]), detail::to_map(e[2]));
  auto events = detail::parse_entries(e[3]);
  if (!events) return events.error();
  result.pending.events = std::move(*events);
  result.pending.last_seq = result.session.last_seq;
  summarize_resync(result.pending);

  // The id index for HTTPS cookies lives outside the device's hash slot, so it is written here
  // rather than in the script; it only ever points at the device, which is re-checked on lookup.
  static_cast<void>((*lease)->command(
      {"SET", keys_.session_id(result.session.id), sid_value(device), "PX", ttl}, redis::Retry::if_stale));
  static_cast<void>(index.add(device));  // best effort: undoes a prune that raced the script above
  return result;
}

Result<std::optional<Session>> Sessions::lookup(const DeviceKey& device) {
  if (auto v = validate(device); !v) return v.error();
  redis::Pipeline p;
  p.add({"HGETALL", keys_.session(device)}).add({"HGETALL", keys_.view(device)});
  auto r = pool_.pipeline(p, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  if ((*r)[0].elements().empty()) return std::optional<Session>{};
  return std::optional<Session>(to_session(detail::to_map((*r)[0]), detail::to_map((*r)[1])));
}

Result<std::optional<DeviceKey>> Sessions::lookup_by_id(std::string_view session_id) {
  if (!is_valid_session_id(session_id)) return std::optional<DeviceKey>{};
  auto r = pool_.command({"GET", keys_.session_id(session_id)}, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  if (r->is_nil()) return std::optional<DeviceKey>{};
  const auto v = r->str();
  const auto nl = v.find('\n');
  if (nl == std::string_view::npos) return detail::corrupt("session id index: malformed value");
  DeviceKey device{std::string(v.substr(0, nl)), std::string(v.substr(nl + 1))};
  auto id = pool_.command({"HGET", keys_.session(device), "id"}, redis::Retry::if_stale);
  if (!id) return from_redis(id.error());
  if (id->is_nil() || id->str() != session_id) return std::optional<DeviceKey>{};
  return std::optional<DeviceKey>(std::move(device));
}

Result<DetachResult> Sessions::detach(const DeviceKey& device, std::string_view session_id,
                                      const DetachParams& params) {
  if (auto v = validate(device); !v) return v.error();
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string keys[] = {keys_.session(device), keys_.view(device), keys_.queue(device),
                              keys_.dedupe(device)};
  const std::string_view kv[] = {keys[0], keys[1], keys[2], keys[3]};
  const std::string now = std::to_string(detail::now_ms());
  const std::string ttl = std::to_string(std::chrono::milliseconds(config_.lifetime).count());
  const std::string acked = std::to_string(params.acked_seq);
  const std::string epoch = std::to_string(params.epoch);
  const std::string state = params.state == SessionState::selected ? "2" : "1";
  const std::string folder = params.state == SessionState::selected ? params.folder : std::string();
  const std::string version = std::to_string(params.view_version);
  std::vector<std::string_view> args{session_id, now, ttl, acked, epoch, state, folder, version,
                                     params.clean ? "1" : "0"};
  for (const auto& [k, val] : params.view) {
    args.push_back(k);
    args.push_back(val);
  }
  auto reply = scripts::detach().run(**lease, kv, args, redis::Retry::if_stale);
  if (!reply) return from_redis(reply.error());
  const long long code = reply->integer();
  if (code < 0) return script_status_error(code);
  static_cast<void>((*lease)->command({"PEXPIRE", keys_.session_id(session_id), ttl}, redis::Retry::if_stale));
  return DetachResult{code == 1};
}

Result<void> Sessions::ack(const DeviceKey& device, std::string_view session_id, std::uint64_t acked_seq) {
  if (auto v = validate(device); !v) return v.error();
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string keys[] = {keys_.session(device), keys_.view(device), keys_.queue(device),
                              keys_.dedupe(device)};
  const std::string_view kv[] = {keys[0], keys[1], keys[2], keys[3]};
  const std::string now = std::to_string(detail::now_ms());
  const std::string ttl = std::to_string(std::chrono::milliseconds(config_.lifetime).count());
  const std::string acked = std::to_string(acked_seq);
  const std::string_view args[] = {session_id, now, ttl, acked};
  auto reply = scripts::ack().run(**lease, kv, args, redis::Retry::if_stale);
  if (!reply) return from_redis(reply.error());
  if (reply->integer() < 0) return script_status_error(reply->integer());
  static_cast<void>((*lease)->command({"PEXPIRE", keys_.session_id(session_id), ttl}, redis::Retry::if_stale));
  return {};
}

Result<void> Sessions::close(const DeviceKey& device, std::string_view session_id) {
  if (auto v = validate(device); !v) return v.error();
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string keys[] = {keys_.session(device), keys_.view(device),   keys_.queue(device),
                              keys_.dedupe(device),  keys_.attach(device), keys_.wake_gate(device)};
  const std::string_view kv[] = {keys[0], keys[1], keys[2], keys[3], keys[4], keys[5]};
  const std::string_view args[] = {session_id};
  auto reply = scripts::close().run(**lease, kv, args, redis::Retry::if_stale);
  if (!reply) return from_redis(reply.error());
  if (reply->integer() < 0) return script_status_error(reply->integer());
  if (reply->integer() == 1)
    static_cast<void>((*lease)->command({"DEL", keys_.session_id(session_id)}, redis::Retry::if_stale));
  // The device stays indexed if it still wants out-of-band wake-ups; otherwise the notifier need not
  // look at it any more. Best effort: the notifier prunes what is left behind.
  static_cast<void>(DeviceIndex(pool_, keys_).prune_if_idle(device));
  return {};
}

Result<void> Sessions::touch(const DeviceKey& device) {
  if (auto v = validate(device); !v) return v.error();
  auto lease = pool_.acquire();
  if (!lease) return from_redis(lease.error());
  const std::string keys[] = {keys_.session(device), keys_.view(device), keys_.queue(device),
                              keys_.dedupe(device)};
  const std::string_view kv[] = {keys[0], keys[1], keys[2], keys[3]};
  const std::string now = std::to_string(detail::now_ms());
  const std::string ttl = std::to_string(std::chrono::milliseconds(config_.lifetime).count());
  const std::string_view args[] = {now, ttl};
  auto reply = scripts::touch().run(**lease, kv, args, redis::Retry::if_stale);
  if (!reply) return from_redis(reply.error());
  if (reply->is_nil()) return StoreError{StoreErrc::no_session, "no session for this device", false};
  static_cast<void>(
      (*lease)->command({"PEXPIRE", keys_.session_id(reply->str()), ttl}, redis::Retry::if_stale));
  return {};
}

}  // namespace pimap::sessionstore
