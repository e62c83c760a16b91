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

bool is_inbox(std::string_view s) {
  return s.size() == 5 && std::equal(s.begin(), s.end(), "INBOX", [](char a, char b) {
           return std::toupper(static_cast<unsigned char>(a)) == b;
         });
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

void render_new(const v1::StoreEvent& e, const RenderOptions& o, MailboxView& view, Rendered& out) {
  std::uint64_t added = 0;
  for (std::uint32_t uid : e.uids()) {
    if (view.contains(uid)) continue;                   // already told (replay, or the store said so)
    if (auto top = view.max(); top && uid < *top) continue;  // cannot be appended; see the header
    view.add(uid);
    out.changes.push_back({true, uid});
    ++added;
  }
  if (added == 0) return;
  out.lines += "* " + std::to_string(view.size()) + " EXISTS\r\n";
  if (!o.qresync) out.lines += "* " + std::to_string(added) + " RECENT\r\n";
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
  std::string flags;
  for (const auto& f : e.flags()) {
    if (!flags.empty()) flags += ' ';
    flags += f;
  }
  for (std::uint32_t uid : e.uids()) {
    const auto seq = view.sequence_of(uid);
    if (!seq) continue;
    out.lines += "* " + std::to_string(*seq) + " FETCH (UID " + std::to_string(uid) + " FLAGS (" + flags + ")";
    if (o.condstore && e.modseq() != 0) out.lines += " MODSEQ (" + std::to_string(e.modseq()) + ")";
    out.lines += ")\r\n";
  }
}

}  // namespace

bool same_mailbox(std::string_view a, std::string_view b) {
  if (is_inbox(a) || is_inbox(b)) return is_inbox(a) && is_inbox(b);
  return a == b;
}

void render_event(const v1::StoreEvent& e, const RenderOptions& o, MailboxView* view, Rendered& out) {
  if (e.kind() == v1::StoreEvent::RESYNC_REQUIRED) return resync(e.mailbox(), out);
  const bool selected = !o.selected.empty() && same_mailbox(e.mailbox(), o.selected);
  const bool message_event =
      e.kind() == v1::StoreEvent::MESSAGE_NEW || e.kind() == v1::StoreEvent::MESSAGE_EXPUNGED ||
      e.kind() == v1::StoreEvent::FLAGS_CHANGED;
  if (!message_event) return;  // mailbox create/delete/rename: the device learns them from LIST
  if (!selected) return render_status(e, out);
  if (view == nullptr) return resync(e.mailbox(), out);
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
  for (const auto& q : push.events()) render_event(q.event(), o, view, out);
  return out;
}

}  // namespace pimap::edge
