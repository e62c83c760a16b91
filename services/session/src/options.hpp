#pragma once
// The session service's settings, independent of where they come from (config keys in main.cpp,
// literals in tests).

#include <pimap/sessionstore/connection_policy.hpp>
#include <pimap/sessionstore/event_queue.hpp>
#include <pimap/sessionstore/sessions.hpp>

#include <chrono>
#include <string>

namespace pimap::session {

struct Options {
  // Unique per process: names this instance's wake-up channel and its attach registrations.
  std::string instance_id;
  std::string key_prefix = "pimap";
  sessionstore::SessionConfig sessions;
  sessionstore::QueueConfig queue;
  sessionstore::PolicyConfig policy;
  std::chrono::milliseconds attach_ttl{90'000};  // refreshed every third of it
  std::chrono::minutes touch_interval{10};       // lifetime refresh of attached (connected) devices
  std::size_t push_batch = 500;                  // events per SessionPush
  std::size_t stream_backlog = 10'000;           // SessionPushes queued for one slow edge before
                                                 // its stream is closed (it re-attaches and catches up)
  unsigned worker_threads = 4;
};

// "<hostname>-<pid>-<random>": unique even when pods reuse names and pids.
std::string default_instance_id();

}  // namespace pimap::session
