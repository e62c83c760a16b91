#include "event_renderer.hpp"

#include <algorithm>
#include <cctype>

namespace pimap::edge {

namespace {

using Kind = v1::StoreEvent::Kind;

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

void resync(std::string_view folder, Rendered& out) {
  if (!folder.empty()) out.lines += "* FOLDER " + quoted(folder) + "\r\n";
  out.lines += "* RESYNC\r\n";
}

void render_status(const v1::StoreEvent& e, Rendered& out) {
  if (!e.has_status()) return;  // nothing to tell without the numbers; the device sees it on SELECT
  const auto& s = e.status();
  // Some store hooks report only part of the status (Dovecot's OX driver: UNSEEN and UIDVALIDITY).
  // UIDNEXT is never 0 when known, so without it the counts are unknown too and are left out rather
  // than told as 0.
  std::string items;
  if (s.uidnext() != 0) {
    items += "MESSAGES " + std::to_string(s.messages()) + " UIDNEXT " + std::to_string(s.uidnext()) + " ";
  }
  items += "UNSEEN " + std::to_string(s.unseen());
  if (s.highestmodseq() != 0) items += " HIGHESTMODSEQ " + std::to_string(s.highestmodseq());
  out.lines += "* STATUS " + quoted(e.mailbox()) + " (" + items + ")\r\n";
}

// The event's MODSEQ is within the state the device's SELECT showed (RenderOptions::modseq_floor).
bool known_to_select(const v1::StoreEvent& e, const RenderOptions& o) {
  return o.modseq_floor != 0 && e.modseq() != 0 && e.modseq() <= o.modseq_floor;
}

void render_new(const v1::StoreEvent& e, const RenderOptions& o, MailboxView& view, Rendered& out) {
  std::uint64_t added = 0;
  bool lost = false;
  for (std::uint32_t uid : e.uids()) {
    if (view.contains(uid)) continue;  // already told (replay, or the store said so)
    if (known_to_select(e, o)) continue;  // gone before the device's SELECT
    if (auto top = view.max(); top && uid < *top) {
      // Cannot be appended (see the header). From a reconcile it is a change the hooks missed; from a
      // live hook it is almost always a message the device has already seen come and go (its own
      // APPEND then EXPUNGE, echoed back late), which the store session settles at the next command.
      if (e.source() == "reconcile") {
        lost = true;
      } else if (!out.selected_resync) {
        out.doubtful.push_back(uid);
        out.doubtful_mailbox = e.mailbox();
      }
      continue;
    }
    view.add(uid);
    out.changes.push_back({true, uid});
    ++added;
  }
  if (added > 0) {
    out.lines += "* " + std::to_string(view.size()) + " EXISTS\r\n";
    if (!o.qresync) out.lines += "* " + std::to_string(added) + " RECENT\r\n";
    for (auto it = out.changes.end() - static_cast<std::ptrdiff_t>(added); it != out.changes.end(); ++it) {
      out.arrivals.push_back({out.lines.size(), it->uid, view.sequence_of(it->uid).value_or(0)});
    }
  }
  if (lost && !out.selected_resync) {
    out.selected_resync = true;
    out.doubtful.clear();  // the RESYNC covers them
    resync(e.mailbox(), out);
  }
}

void render_expunged(const v1::StoreEvent& e, const RenderOptions& o, MailboxView& view, Rendered& out) {
  std::vector<std::uint32_t> uids(e.uids().begin(), e.uids().end());
  std::sort(uids.begin(), uids.end(), std::greater<>());
  std::vector<std::uint32_t> gone;
  for (std::uint32_t uid : uids) {
    const auto seq = view.sequence_of(uid);
    if (!seq) continue;
    // Highest first, so every number is still valid when the device applies it.
    if (!o.qresync) out.lines += "* " + std::to_string(*seq) + " EXPUNGE\r\n";
    view.remove(uid);
    out.changes.push_back({false, uid});
    gone.push_back(uid);
  }
  if (o.qresync && !gone.empty()) out.lines += "* VANISHED " + MailboxView::from_uids(gone).to_string() + "\r\n";
}

void render_flags(const v1::StoreEvent& e, const RenderOptions& o, const MailboxView& view, Rendered& out) {
  if (known_to_select(e, o)) return;
  std::string flags;
  for (const auto& f : e.flags()) {
    if (!flags.empty()) flags += ' ';
    flags += f;
  }
  for (std::uint32_t uid : e.uids()) {
    const auto seq = view.sequence_of(uid);
    if (!seq) continue;
    if (o.shown_modseqs && e.modseq() != 0) {
      const auto shown = o.shown_modseqs->find(uid);
      if (shown != o.shown_modseqs->end() && e.modseq() <= shown->second) continue;  // its FETCH showed it
    }
    out.lines += "* " + std::to_string(*seq) + " FETCH (UID " + std::to_string(uid) + " FLAGS (" + flags + ")";
    if (o.condstore && e.modseq() != 0) out.lines += " MODSEQ (" + std::to_string(e.modseq()) + ")";
    out.lines += ")\r\n";
  }
}

}  // namespace

void render_event(const v1::StoreEvent& e, const RenderOptions& o, MailboxView* view, Rendered& out) {
  if (e.kind() == v1::StoreEvent::RESYNC_REQUIRED) return resync(e.mailbox(), out);
  const bool selected = !o.selected.empty() && same_mailbox(e.mailbox(), o.selected);
  const bool message_event =
      e.kind() == v1::StoreEvent::MESSAGE_NEW || e.kind() == v1::StoreEvent::MESSAGE_EXPUNGED ||
      e.kind() == v1::StoreEvent::FLAGS_CHANGED;
  if (!message_event) return;  // mailbox create/delete/rename: the device learns them from LIST
  if (!selected) return render_status(e, out);
  if (view == nullptr) return resync(e.mailbox(), out);
  if (o.uidvalidity != 0 && e.uidvalidity() != 0 && e.uidvalidity() != o.uidvalidity) return resync(e.mailbox(), out);
  switch (e.kind()) {
    case v1::StoreEvent::MESSAGE_NEW: return render_new(e, o, *view, out);
    case v1::StoreEvent::MESSAGE_EXPUNGED: return render_expunged(e, o, *view, out);
    default: return render_flags(e, o, *view, out);
  }
}

Rendered render_push(const v1::SessionPush& push, const RenderOptions& o, MailboxView* view) {
  Rendered out;
  if (push.resync()) {
    resync(push.resync_folder(), out);
    return out;
  }
  render_events(push.events(), o, view, out);
  return out;
}

void render_events(const google::protobuf::RepeatedPtrField<v1::QueuedEvent>& events, const RenderOptions& o,
                   MailboxView* view, Rendered& out) {
  // Index of the last event with a status, per other mailbox: only that one is told.
  std::vector<std::pair<std::string, int>> last_status;
  for (int i = 0; i < events.size(); ++i) {
    const auto& e = events.Get(i).event();
    if (!e.has_status() || (!o.selected.empty() && same_mailbox(e.mailbox(), o.selected))) continue;
    auto it = std::find_if(last_status.begin(), last_status.end(),
                           [&](const auto& p) { return same_mailbox(p.first, e.mailbox()); });
    if (it == last_status.end()) last_status.emplace_back(e.mailbox(), i);
    else it->second = i;
  }
  for (int i = 0; i < events.size(); ++i) {
    const auto& e = events.Get(i).event();
    const bool other = o.selected.empty() || !same_mailbox(e.mailbox(), o.selected);
    if (other && e.kind() != v1::StoreEvent::RESYNC_REQUIRED) {
      const bool told_later = std::any_of(last_status.begin(), last_status.end(), [&](const auto& p) {
        return p.second != i && same_mailbox(p.first, e.mailbox());
      });
      if (told_later) continue;
    }
    if (!other && e.kind() == v1::StoreEvent::MESSAGE_NEW && e.uids_size() > 0) {
      // The store hands out UIDs in commit order, but its hooks may report two deliveries the other
      // way round. A lower UID of a later event in the batch already existed when this one did:
      // told together, both are appended instead of the lower one being left to reconciliation.
      v1::StoreEvent together = e;
      const std::uint32_t top = *std::max_element(e.uids().begin(), e.uids().end());
      for (int j = i + 1; j < events.size(); ++j) {
        const auto& later = events.Get(j).event();
        if (later.kind() != v1::StoreEvent::MESSAGE_NEW || !same_mailbox(later.mailbox(), o.selected)) continue;
        if (o.uidvalidity != 0 && later.uidvalidity() != 0 && later.uidvalidity() != o.uidvalidity) continue;
        for (std::uint32_t u : later.uids()) {
          if (u < top) together.add_uids(u);
        }
      }
      std::sort(together.mutable_uids()->begin(), together.mutable_uids()->end());
      render_event(together, o, view, out);
      continue;
    }
    render_event(e, o, view, out);
  }
}

std::string with_arrival_fetches(const Rendered& r,
                                 const std::function<std::vector<std::string>(std::uint32_t uid)>& fetched) {
  std::string out;
  std::size_t at = 0;
  for (const auto& a : r.arrivals) {
    out.append(r.lines, at, a.offset - at);
    at = a.offset;
    if (a.seq == 0) continue;
    for (const auto& raw : fetched(a.uid)) {
      // "* <store's number> FETCH (...)": the store numbers its own connection, the device its view.
      const auto fetch = raw.find(" FETCH ");
      if (raw.rfind("* ", 0) != 0 || fetch == std::string::npos) continue;
      out += "* " + std::to_string(a.seq) + raw.substr(fetch);
    }
  }
  out.append(r.lines, at, std::string::npos);
  return out;
}

}  // namespace pimap::edge
