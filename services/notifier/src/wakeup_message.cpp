#include "wakeup_message.hpp"

namespace pimap::notifier {

std::string emn_address(std::string_view user, std::string_view mail_domain) {
  std::string a(user);
  if (a.find('@') == std::string::npos && !mail_domain.empty()) a.append("@").append(mail_domain);
  return a;
}

std::chrono::sys_seconds event_time(const v1::StoreEvent& e, std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  const std::int64_t us = e.store_time_unix_us() > 0 ? e.store_time_unix_us() : e.observed_unix_us();
  if (us > 0) return floor<seconds>(sys_time<microseconds>(microseconds(us)));
  return floor<seconds>(now);
}

emn::Notification emn_for(const v1::StoreEvent& e, std::string_view mail_domain,
                          std::chrono::system_clock::time_point now) {
  return emn::Notification{emn::mailat(emn_address(e.user(), mail_domain)), event_time(e, now)};
}

std::string extended_message(const v1::StoreEvent& e, std::uint64_t seq, bool state_comparison) {
  std::string event = "STATE_COMPARISON_SYNC";
  bool with_uid = false;
  if (!state_comparison) {
    switch (e.kind()) {
      case v1::StoreEvent::MESSAGE_NEW: event = "NEW_MESSAGE"; with_uid = true; break;
      case v1::StoreEvent::MESSAGE_EXPUNGED: event = "DELETED_MESSAGE"; with_uid = true; break;
      case v1::StoreEvent::FLAGS_CHANGED: event = "CHANGED_MESSAGE"; with_uid = true; break;
      default: break;  // mailbox-level changes and RESYNCs: the device compares state
    }
  }
  std::string out = "_%$P-IMAP$%_ " + std::to_string(seq) + " " + e.user() + " " + event;
  // One UID identifies the message; several (or none) leave the device to look.
  if (with_uid && e.uids_size() == 1) out += " " + std::to_string(e.uids(0));
  return out;
}

}  // namespace pimap::notifier
