#pragma once
// Session ids (profile §3): 128 random bits from the kernel CSPRNG, printed as 26 characters of the
// RFC 4648 base32 alphabet (A-Z, 2-7), no padding.

#include <string>
#include <string_view>

namespace pimap::sessionstore {

std::string generate_session_id();
bool is_valid_session_id(std::string_view id) noexcept;

}  // namespace pimap::sessionstore
