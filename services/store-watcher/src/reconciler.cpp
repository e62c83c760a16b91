#include "reconciler.hpp"

#include "event_id.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace pimap::store_watcher {

namespace {

using pimap::v1::StoreEvent;

MailboxState state_of(const pimap::v1::MailboxStatus& s) {
  return MailboxState{s.uidvalidity(), s.highestmodseq(), s.uidnext()};
}

}  // namespace

namespace {

bool is_recent(std::string_view flag) {
  return flag.size() == 7 && flag[0] == '\\' &&
         std::equal(flag.begin() + 1, flag.end(), "recent", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

}  // namespace

Outcome<std::vector<StoreEvent>> Reconciler::last_transaction(const std::string& user,
                                                              const std::vector<std::string>& only,
                                                              const std::vector<MailboxSnapshot>& snapshots,
                                                              std::int64_t observed) {
  std::vector<StoreEvent> out;
  for (const auto& snap : snapshots) {
    if (std::find(only.begin(), only.end(), snap.name) == only.end()) continue;
    const std::uint64_t top = snap.status.highestmodseq();
    if (top <= 1) continue;  // nothing changed since the mailbox was created
    MailboxState since = state_of(snap.status);
    since.highestmodseq = top - 1;
    auto changes = store_.changes_since(user, snap.name, since);
    if (!changes.ok()) return Outcome<std::vector<StoreEvent>>::failure(snap.name + ": " + changes.error);
    for (const auto& m : changes.value->changed) {
      // Only what carries the mailbox's newest MODSEQ: the transaction that fired the hook (or a
      // later one, also true), with the flags the store holds now.
      if (m.modseq != top) continue;
      StoreEvent e;
      e.set_user(user);
      e.set_mailbox(snap.name);
      e.set_uidvalidity(changes.value->status.uidvalidity());
      e.set_kind(StoreEvent::FLAGS_CHANGED);
      e.set_observed_unix_us(observed);
      e.set_source("reconcile");
      *e.mutable_status() = changes.value->status;
      e.add_uids(m.uid);
      e.set_modseq(m.modseq);
      for (const auto& f : m.flags) e.add_flags(f);
      assign_event_id(e);
      out.push_back(std::move(e));
    }
  }
  return Outcome<std::vector<StoreEvent>>::success(std::move(out));
}

Reconciler::Report Reconciler::reconcile(const std::string& user, const std::vector<std::string>& only) {
  Report report;
  auto old = state_.load(user);
  if (!old.ok()) {
    report.error = "state: " + old.error;
    return report;
  }
  auto snapshots = store_.mailboxes(user);
  if (!snapshots.ok()) {
    report.error = "store: " + snapshots.error;
    return report;
  }
  const UserState& before = *old.value;
  const bool full = only.empty();
  const std::int64_t observed = now_();

  UserState next;
  if (!full) next = before;  // untouched mailboxes keep their state
  if (before.empty()) {
    for (const auto& snap : *snapshots.value) next[snap.name] = state_of(snap.status);
    std::vector<StoreEvent> last;
    if (!full) {
      auto e = last_transaction(user, only, *snapshots.value, now_());
      if (!e.ok()) {
        report.error = "store: " + e.error;
        return report;
      }
      last = std::move(*e.value);
    }
    report.changes = last.size();
    if (!last.empty())
      if (auto e = sink_(std::move(last)); !e.ok()) {
        report.error = "publish: " + e.message;
        return report;
      }
    if (auto e = state_.save(user, next); !e.empty()) {
      report.error = "state: " + e;
      return report;
    }
    report.ok = true;
    report.baseline = true;
    return report;
  }

  std::vector<StoreEvent> mailbox_events, message_events;
  auto event = [&](const std::string& mailbox, std::uint32_t uidvalidity, StoreEvent::Kind kind,
                   const pimap::v1::MailboxStatus* status) {
    StoreEvent e;
    e.set_user(user);
    e.set_mailbox(mailbox);
    e.set_uidvalidity(uidvalidity);
    e.set_kind(kind);
    e.set_observed_unix_us(observed);
    e.set_source("reconcile");
    if (status != nullptr) *e.mutable_status() = *status;
    return e;
  };

  std::vector<const MailboxSnapshot*> created;
  std::set<std::string> present;
  for (const auto& snap : *snapshots.value) {
    present.insert(snap.name);
    if (!full && std::find(only.begin(), only.end(), snap.name) == only.end()) continue;
    const MailboxState now_state = state_of(snap.status);
    auto it = before.find(snap.name);
    if (it == before.end()) {
      if (full) created.push_back(&snap);
      next[snap.name] = now_state;
      continue;
    }
    const MailboxState& was = it->second;
    if (was.uidvalidity != now_state.uidvalidity) {
      auto e = event(snap.name, now_state.uidvalidity, StoreEvent::RESYNC_REQUIRED, &snap.status);
      assign_event_id(e);
      mailbox_events.push_back(std::move(e));
      next[snap.name] = now_state;
      continue;
    }
    if (was.highestmodseq == now_state.highestmodseq && was.uidnext == now_state.uidnext) {
      next[snap.name] = was;
      continue;
    }
    auto changes = store_.changes_since(user, snap.name, was);
    if (!changes.ok()) {
      report.error = "store: " + snap.name + ": " + changes.error;
      return report;  // nothing published, nothing saved: the next run starts from the same point
    }
    const auto& ch = *changes.value;
    if (ch.status.uidvalidity() != was.uidvalidity) {  // changed between LIST and SELECT
      auto e = event(snap.name, ch.status.uidvalidity(), StoreEvent::RESYNC_REQUIRED, &ch.status);
      assign_event_id(e);
      mailbox_events.push_back(std::move(e));
      next[snap.name] = state_of(ch.status);
      continue;
    }
    auto changed = ch.changed;
    std::sort(changed.begin(), changed.end(), [](const auto& a, const auto& b) { return a.uid < b.uid; });
    for (const auto& m : changed) {
      const bool is_new = m.uid >= was.uidnext;
      auto e = event(snap.name, was.uidvalidity, is_new ? StoreEvent::MESSAGE_NEW : StoreEvent::FLAGS_CHANGED,
                     &ch.status);
      e.add_uids(m.uid);
      e.set_modseq(m.modseq);
      if (is_new) {
        pimap::v1::MessageInfo info = m.info.value_or(pimap::v1::MessageInfo{});
        info.set_uid(m.uid);
        if (info.flags_size() == 0)
          for (const auto& f : m.flags) info.add_flags(f);
        *e.add_messages() = std::move(info);
      } else {
        for (const auto& f : m.flags) e.add_flags(f);
      }
      assign_event_id(e);
      message_events.push_back(std::move(e));
      // A new message that already carries flags may have been changed since it arrived (a STORE
      // right after the delivery, before this run): a device told of it by an earlier hook skips
      // this NEW as known and would never see those flags. Said again as a flag change; a device
      // that gets both sees EXISTS, then the same flags.
      if (is_new && std::any_of(m.flags.begin(), m.flags.end(), [](const std::string& f) { return !is_recent(f); })) {
        auto f = event(snap.name, was.uidvalidity, StoreEvent::FLAGS_CHANGED, &ch.status);
        f.add_uids(m.uid);
        f.set_modseq(m.modseq);
        for (const auto& flag : m.flags)
          if (!is_recent(flag)) f.add_flags(flag);
        assign_event_id(f);
        message_events.push_back(std::move(f));
      }
    }
    auto vanished = ch.vanished;
    std::sort(vanished.begin(), vanished.end());
    vanished.erase(std::unique(vanished.begin(), vanished.end()), vanished.end());
    // Every vanished UID, also those at or above the old UIDNEXT: arrived and gone since the last run,
    // but a hook may have told devices of the arrival before the hook of the expunge was lost (the
    // watcher was down). A device that never heard of the UID drops the expunge (the edge renders
    // only UIDs in its view); one that did would otherwise keep the message forever (issue #5).
    for (auto uid : vanished) {
      auto e = event(snap.name, was.uidvalidity, StoreEvent::MESSAGE_EXPUNGED, &ch.status);
      e.add_uids(uid);
      assign_event_id(e);
      message_events.push_back(std::move(e));
    }
    next[snap.name] = state_of(ch.status);
  }

  if (full) {
    std::vector<StoreEvent> deleted;
    for (const auto& [name, was] : before) {
      if (present.count(name) != 0) continue;
      auto renamed = std::find_if(created.begin(), created.end(), [&](const MailboxSnapshot* s) {
        return was.uidvalidity != 0 && s->status.uidvalidity() == was.uidvalidity;
      });
      if (renamed != created.end()) {
        auto e = event((*renamed)->name, was.uidvalidity, StoreEvent::MAILBOX_RENAMED, &(*renamed)->status);
        e.set_old_mailbox(name);
        assign_event_id(e);
        mailbox_events.push_back(std::move(e));
        created.erase(renamed);
        continue;
      }
      auto e = event(name, was.uidvalidity, StoreEvent::MAILBOX_DELETED, nullptr);
      assign_event_id(e);
      deleted.push_back(std::move(e));
    }
    for (const auto* snap : created) {
      auto e = event(snap->name, snap->status.uidvalidity(), StoreEvent::MAILBOX_CREATED, &snap->status);
      assign_event_id(e);
      mailbox_events.push_back(std::move(e));
    }
    mailbox_events.insert(mailbox_events.end(), std::make_move_iterator(deleted.begin()),
                          std::make_move_iterator(deleted.end()));
  }

  std::vector<StoreEvent> events = std::move(mailbox_events);
  events.insert(events.end(), std::make_move_iterator(message_events.begin()),
                std::make_move_iterator(message_events.end()));
  report.changes = events.size();
  if (!events.empty()) {
    if (auto e = sink_(std::move(events)); !e.ok()) {
      report.error = "publish: " + e.message;
      return report;
    }
  }
  if (next != before) {
    if (auto e = state_.save(user, next); !e.empty()) {
      report.error = "state: " + e;
      return report;
    }
  }
  report.ok = true;
  return report;
}

}  // namespace pimap::store_watcher
