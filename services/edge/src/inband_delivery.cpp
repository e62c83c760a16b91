#include "inband_delivery.hpp"

#include <pimap/imap/serializer.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>
#include <vector>

namespace pimap::edge {

namespace {

std::string astring(std::string_view s) {
  std::string out;
  imap::Serializer(out).astring(s);
  return out;
}

}  // namespace

bool wants_new_format(std::string_view p) {
  if (p.empty()) return false;
  return !(p.size() == 4 && std::equal(p.begin(), p.end(), "NONE", [](char a, char b) {
    return std::toupper(static_cast<unsigned char>(a)) == b;
  }));
}

void write_with_new_format(const std::shared_ptr<StoreSession>& store, const std::string& new_format,
                           Rendered rendered, std::function<void(std::string lines)> write) {
  if (store && !rendered.doubtful.empty() && !rendered.selected_resync) {
    auto uids = std::exchange(rendered.doubtful, {});
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    auto exists = std::make_shared<bool>(false);
    auto shared = std::make_shared<Rendered>(std::move(rendered));
    store->fetch_aside(
        MailboxView::from_uids(uids).to_string(), "(UID)", [exists](std::uint32_t, std::string_view) { *exists = true; },
        [store, new_format, exists, shared, write = std::move(write)](bool ok) mutable {
          if (*exists || !ok) {
            // At the end: after the EXISTS (and NEW_FORMAT FETCH offsets) of what could be placed.
            shared->lines += "* FOLDER " + astring(shared->doubtful_mailbox) + "\r\n* RESYNC\r\n";
            shared->selected_resync = true;
          }
          write_with_new_format(store, new_format, std::move(*shared), std::move(write));
        });
    return;
  }
  if (!store || !wants_new_format(new_format) || rendered.arrivals.empty()) return write(std::move(rendered.lines));
  std::vector<std::uint32_t> uids;
  for (const auto& a : rendered.arrivals) uids.push_back(a.uid);
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  auto fetched = std::make_shared<std::map<std::uint32_t, std::vector<std::string>>>();
  auto shared = std::make_shared<Rendered>(std::move(rendered));
  store->fetch_aside(
      MailboxView::from_uids(uids).to_string(), new_format,
      [fetched](std::uint32_t uid, std::string_view raw) { (*fetched)[uid].emplace_back(raw); },
      [fetched, shared, write = std::move(write)](bool) {
        write(with_arrival_fetches(*shared, [&](std::uint32_t uid) {
          auto it = fetched->find(uid);
          return it == fetched->end() ? std::vector<std::string>{} : it->second;
        }));
      });
}

ResumePlan plan_resume(const SessionOpen& s, StoreSession& store) {
  ResumePlan plan;
  if (!s.resumed) return plan;
  plan.head += s.selected ? "* SESSION SELECTED\r\n" : "* SESSION AUTHENTICATED\r\n";
  if (s.selected) plan.head += "* FOLDER " + astring(s.folder) + "\r\n";

  // The view must be of the session's state: a view of another folder (or of a folder when the
  // session says none is selected) says nothing about what the device holds now.
  auto view = decode_view(s.view);
  if (view && s.selected && (!view->mailbox || !same_mailbox(view->mailbox->name, s.folder))) view.reset();
  if (view && !s.selected) view->mailbox.reset();
  if (view) {
    store.restore_device_view(*view);
    plan.view_restored = s.selected;
  }

  if (s.resync) {
    if (!s.resync_folder.empty() && s.resync_folder != s.folder) {
      plan.head += "* FOLDER " + astring(s.resync_folder) + "\r\n";
    }
    plan.head += "* RESYNC\r\n";
    return plan;
  }
  if (s.selected && !view) {
    plan.head += "* RESYNC\r\n";  // scoped by the * FOLDER above
    return plan;
  }
  RenderOptions options;
  if (s.selected) options.selected = s.folder;
  options.qresync = store.enabled("QRESYNC");
  options.condstore = store.enabled("CONDSTORE");
  MailboxView uids;
  if (view && view->mailbox) {
    options.uidvalidity = view->mailbox->uidvalidity;
    options.modseq_floor = view->mailbox->modseq_floor;
    options.shown_modseqs = &view->mailbox->shown_modseqs;
    uids = view->mailbox->uids;
  }
  render_events(s.pending, options, s.selected ? &uids : nullptr, plan.replay);
  for (const auto& c : plan.replay.changes) {
    if (c.added) store.view_added(c.uid);
    else store.view_removed(c.uid);
  }
  return plan;
}

}  // namespace pimap::edge
