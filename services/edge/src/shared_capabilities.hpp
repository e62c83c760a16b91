#pragma once
// One copy of the store's capability list for all sessions that got the same one.
//
// Every store session remembers the capabilities the store announced after its login (40 atoms from
// Dovecot 2.3, about 1.5 KiB as a vector of strings). All sessions of one store see the same list, so
// keeping a copy each would cost more than the rest of an idle session's store state.

#include <memory>
#include <string>
#include <vector>

namespace pimap::edge {

using Capabilities = std::shared_ptr<const std::vector<std::string>>;

// The shared list equal to `caps` (a new one the first time such a list is seen). Thread-safe.
// Remembers at most a handful of distinct lists (a rolling store upgrade shows two or three); past
// that the oldest is forgotten, which only costs sharing, never correctness.
Capabilities share_capabilities(std::vector<std::string> caps);

}  // namespace pimap::edge
