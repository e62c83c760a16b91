#include "news.hpp"

#include "filters.hpp"

#include <algorithm>

namespace pimap::notifier {

bool is_news(const v1::StoreEvent& e, const std::optional<deviceview::DeviceView>& view) {
  if (!view || !view->mailbox) return true;
  const auto& box = *view->mailbox;
  if (box.uidvalidity == 0 || e.uidvalidity() != box.uidvalidity || !same_mailbox(e.mailbox(), box.name))
    return true;
  const auto& uids = e.uids();
  switch (e.kind()) {
    case v1::StoreEvent::MESSAGE_NEW:
    case v1::StoreEvent::MESSAGE_EXPUNGED:
    case v1::StoreEvent::FLAGS_CHANGED:
      break;
    default:
      return true;
  }
  if (e.modseq() != 0 && box.modseq_floor != 0 && e.modseq() <= box.modseq_floor) return false;
  if (uids.empty()) return true;
  switch (e.kind()) {
    case v1::StoreEvent::MESSAGE_NEW: {
      const auto highest = box.uids.max();
      return !highest || std::any_of(uids.begin(), uids.end(), [&](std::uint32_t u) { return u > *highest; });
    }
    case v1::StoreEvent::MESSAGE_EXPUNGED:
      return std::any_of(uids.begin(), uids.end(), [&](std::uint32_t u) { return box.uids.contains(u); });
    default:  // FLAGS_CHANGED
      return e.modseq() == 0 || std::any_of(uids.begin(), uids.end(), [&](std::uint32_t u) {
               const auto it = box.shown_modseqs.find(u);
               return it == box.shown_modseqs.end() || it->second < e.modseq();
             });
  }
}

}  // namespace pimap::notifier
