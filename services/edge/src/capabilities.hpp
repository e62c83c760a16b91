#pragma once
// What the edge advertises (profile §2) and what XPROVISION lists (profile §6).
//
// Rule: never advertise what is not implemented end to end. The edge adds what it serves itself and
// passes through only those store capabilities whose commands it can forward unchanged; anything
// that would need the edge's cooperation (NOTIFY, URLAUTH, CATENATE, the store's own IDLE/COMPRESS)
// is withheld. XPIMAPv1 ("all of the profile") is withheld until every part of the profile is served.

#include <string>
#include <vector>

namespace pimap::edge {

// Before login. `tls`: the connection is encrypted now. `starttls`: STARTTLS can be offered.
std::string pre_auth_capabilities(bool tls, bool starttls, bool allow_plaintext_login);

// After login: the edge's own capabilities plus the passthrough subset of `store_caps`.
std::string post_auth_capabilities(const std::vector<std::string>& store_caps);

// The untagged XPROVISION lines (CRLF-terminated).
std::string xprovision_lines();

// Store capabilities that may be passed through unchanged (upper-case; "THREAD=" and "SORT=" prefixes).
bool passthrough_capability(const std::string& cap);

}  // namespace pimap::edge
