#pragma once
// The Redis-backed state the RPC handlers and the push hub share (libs/sessionstore).

#include "options.hpp"

#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/attach_registry.hpp>
#include <pimap/sessionstore/connection_policy.hpp>
#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/preferences.hpp>
#include <pimap/sessionstore/sessions.hpp>

namespace pimap::session {

struct Store {
  Store(redis::Pool& pool, const Options& options)
      : keys(options.key_prefix),
        sessions(pool, keys, options.sessions),
        queue(pool, keys, options.queue),
        prefs(pool, keys),
        policy(pool, keys, options.policy),
        registry(pool, keys, options.attach_ttl) {}

  sessionstore::Keys keys;
  sessionstore::Sessions sessions;
  sessionstore::EventQueue queue;
  sessionstore::PreferenceStore prefs;
  sessionstore::ConnectionPolicy policy;
  sessionstore::AttachRegistry registry;
};

}  // namespace pimap::session
