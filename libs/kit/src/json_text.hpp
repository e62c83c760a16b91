#pragma once
// Writing JSON string literals by hand (the kit emits JSON in hot paths and needs no parser).

#include <string>
#include <string_view>

namespace pimap::kit::detail {

// Appends `s` as a quoted JSON string. Control characters are escaped, and bytes that are not valid
// UTF-8 become U+FFFD, so the output is always valid JSON whatever the input.
void append_json_string(std::string& out, std::string_view s);

}  // namespace pimap::kit::detail
