#pragma once
// Suggestion for a mistyped key: the closest accepted path by edit distance, if close enough to be a
// typo, else a path with the same last word (a key written at the wrong nesting level).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pimap::kit::detail {

std::optional<std::string> did_you_mean(std::string_view unknown, const std::vector<std::string>& known);

}  // namespace pimap::kit::detail
