#pragma once
// Comparing mailbox names as IMAP does: INBOX is case-insensitive (RFC 3501 §5.1), every other name is
// compared byte for byte (in its modified UTF-7 spelling, as the store and the devices write it). The
// edge, rendering events for a device's selected mailbox, and the notifier, matching events with
// filters and with the view a device's edge saved, must agree on this.

#include <string_view>

namespace pimap::imap {

bool is_inbox(std::string_view name) noexcept;
bool same_mailbox(std::string_view a, std::string_view b) noexcept;

}  // namespace pimap::imap
