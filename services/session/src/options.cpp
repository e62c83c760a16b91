#include "options.hpp"

#include <pimap/sessionstore/session_id.hpp>

#include <unistd.h>

#include <cstdio>

namespace pimap::session {

std::string default_instance_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "session");
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + sessionstore::generate_session_id().substr(0, 8);
}

}  // namespace pimap::session
