#include "pimap/imap/mailbox_name.hpp"

namespace pimap::imap {

bool is_inbox(std::string_view name) noexcept {
  if (name.size() != 5) return false;
  for (std::size_t i = 0; i < 5; ++i)
    if ((name[i] | 0x20) != "inbox"[i]) return false;
  return true;
}

bool same_mailbox(std::string_view a, std::string_view b) noexcept {
  if (is_inbox(a) || is_inbox(b)) return is_inbox(a) && is_inbox(b);
  return a == b;
}

}  // namespace pimap::imap
