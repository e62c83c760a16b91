#pragma once
// Textual EMN: `<emn mailbox="mailat:user@domain" timestamp="2026-11-27T10:00:00Z"/>`, what an SMS
// wake-up carries (profile §11). No XML declaration: an SMS has 160 characters, and the element alone
// is what handsets look for.

#include <pimap/emn/emn.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pimap::emn {

std::string to_text(const Notification& n);

// Finds the <emn .../> element in `text` (an XML declaration or whitespace around it are fine) and
// reads its two attributes; attribute order and quote style are free, the five predefined entities
// are decoded. Empty with `error` set when there is no such element or a value is malformed.
std::optional<Notification> parse_text(std::string_view text, std::string* error = nullptr);

// "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339 in UTC, no fractions).
std::string format_timestamp(std::chrono::sys_seconds t);
std::optional<std::chrono::sys_seconds> parse_timestamp(std::string_view s);

}  // namespace pimap::emn
