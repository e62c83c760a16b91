#include "event_id.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace pimap::store_watcher {

namespace {

using pimap::v1::StoreEvent;

// FNV-1a 64: stable across builds and platforms (std::hash is not).
std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return out;
}

// Order-independent and case-insensitive for system flags (\Seen == \SEEN); keywords are
// case-sensitive in IMAP but Dovecot keeps their spelling, so they hash as given.
std::string flags_hash(const google::protobuf::RepeatedPtrField<std::string>& flags) {
  std::vector<std::string> sorted;
  for (const auto& f : flags) {
    std::string s = f;
    if (!s.empty() && s[0] == '\\')
      std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    sorted.push_back(std::move(s));
  }
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::uint64_t h = fnv1a("");
  for (const auto& s : sorted) h = fnv1a(s + '\n', h);
  return hex(h);
}

}  // namespace

std::string escape_segment(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '%')
      out += "%25";
    else if (c == '/')
      out += "%2F";
    else
      out += c;
  }
  return out;
}

std::string make_event_id(const StoreEvent& e) {
  std::string id = escape_segment(e.user());
  id += '/';
  id += escape_segment(e.mailbox());
  id += '/';
  id += std::to_string(e.uidvalidity());
  id += '/';
  const std::string uid = e.uids_size() > 0 ? std::to_string(e.uids(0)) : "0";
  switch (e.kind()) {
    case StoreEvent::MESSAGE_NEW:
      return id + uid + "/new";
    case StoreEvent::MESSAGE_EXPUNGED:
      return id + uid + "/expunged";
    case StoreEvent::FLAGS_CHANGED:
      if (e.modseq() != 0) return id + uid + "@" + std::to_string(e.modseq()) + "/flags";
      return id + uid + "/flags=" + flags_hash(e.flags());
    case StoreEvent::MAILBOX_CREATED:
      return id + "created";
    case StoreEvent::MAILBOX_DELETED:
      return id + "deleted";
    case StoreEvent::MAILBOX_RENAMED:
      return id + "renamed-from/" + escape_segment(e.old_mailbox());
    case StoreEvent::RESYNC_REQUIRED:
      // A whole-account resync has no UIDVALIDITY to tell two of them apart: use the time seen.
      if (e.mailbox().empty()) return id + "resync@" + std::to_string(e.observed_unix_us());
      return id + "resync";
    default:
      return id + "unspecified";
  }
}

void assign_event_id(StoreEvent& event) {
  event.set_event_id(make_event_id(event));
  if (event.kind() != StoreEvent::MESSAGE_NEW && event.kind() != StoreEvent::FLAGS_CHANGED) return;
  StoreEvent expunged;
  expunged.set_user(event.user());
  expunged.set_mailbox(event.mailbox());
  expunged.set_uidvalidity(event.uidvalidity());
  expunged.set_kind(StoreEvent::MESSAGE_EXPUNGED);
  if (event.uids_size() > 0) expunged.add_uids(event.uids(0));
  event.set_stale_if_seen(make_event_id(expunged));
}

}  // namespace pimap::store_watcher
