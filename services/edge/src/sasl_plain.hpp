#pragma once
// SASL PLAIN (RFC 4616) as carried by AUTHENTICATE (RFC 3501 §6.2.2, RFC 4959 SASL-IR).

#include <optional>
#include <string>
#include <string_view>

namespace pimap::edge {

struct PlainCredentials {
  std::string user;      // authcid
  std::string password;
};

// Decodes base64("authzid\0authcid\0passwd"). nullopt on bad base64, a wrong number of NULs, an empty
// authcid, or an authzid that differs from the authcid (acting as another user is not offered).
std::optional<PlainCredentials> decode_sasl_plain(std::string_view base64);

// RFC 4648 base64 without line breaks; nullopt on any invalid character or padding.
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace pimap::edge
