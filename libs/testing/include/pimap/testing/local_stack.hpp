#pragma once
// The local cluster an integration test runs against, as scripts/stack described it in stack.json.
//
// ctest hands every integration test PIMAP_STACK_JSON (see cmake/PimapTargets.cmake,
// pimap_integration_gtest). Run by hand without it, the tests skip — visibly, through
// PIMAP_REQUIRE_STACK() — rather than pretend to pass.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pimap::testing {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

struct StackUser {
  std::string name, password, email;
};

struct LocalStack {
  Endpoint imap, imaps, lmtp;  // Dovecot
  std::string ca_cert;         // the CA that signed every TLS certificate of the stack
  std::string master_user, master_password, separator = "*";
  std::vector<StackUser> users;
};

// "host:port" -> Endpoint; throws std::invalid_argument on a malformed value.
Endpoint parse_endpoint(std::string_view host_port);

// The stack named by PIMAP_STACK_JSON, read once; null when the variable is unset. Throws when the
// file named there cannot be read or parsed (a broken cluster must fail tests, not skip them).
const LocalStack* local_stack();

// A random hex token for unique mailbox names, Message-IDs and device ids.
std::string random_token();

}  // namespace pimap::testing

#define PIMAP_REQUIRE_STACK()                                                                        \
  do {                                                                                               \
    if (!::pimap::testing::local_stack())                                                            \
      GTEST_SKIP() << "PIMAP_STACK_JSON not set (start one: scripts/stack up, or run through ctest)"; \
  } while (0)
