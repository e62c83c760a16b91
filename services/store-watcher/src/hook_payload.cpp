#include "hook_payload.hpp"

#include "event_id.hpp"

#include <pimap/imap/mutf7.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

namespace pimap::store_watcher {

namespace {

namespace json = boost::json;
using pimap::v1::StoreEvent;

constexpr const char* kSource = "push_notification";

// Field access that reports what is wrong with the payload instead of throwing.
struct Fields {
  const json::object& obj;
  std::string& error;
  std::string where;

  std::optional<std::uint64_t> number(std::string_view key, std::uint64_t max, bool required) {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) fail(key, "missing");
      return std::nullopt;
    }
    std::uint64_t n = 0;
    if (v->is_uint64()) {
      n = v->get_uint64();
    } else if (v->is_int64() && v->get_int64() >= 0) {
      n = static_cast<std::uint64_t>(v->get_int64());
    } else if (v->is_double() && v->get_double() >= 0 && std::floor(v->get_double()) == v->get_double() &&
               v->get_double() <= static_cast<double>(max)) {
      n = static_cast<std::uint64_t>(v->get_double());
    } else if (v->is_string()) {  // Lua's tostring() of a large number, Dovecot ints as strings
      auto s = v->get_string();
      if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          s.size() > 20) {
        fail(key, "not a non-negative integer");
        return std::nullopt;
      }
      // from_chars reports overflow instead of throwing (a 20-digit string can exceed 2^64; found by
      // fuzz/hook_payload_fuzz, where std::stoull's out_of_range escaped and took the intake down).
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec != std::errc() || end != s.data() + s.size()) {
        fail(key, "out of range");
        return std::nullopt;
      }
    } else {
      fail(key, "not a non-negative integer");
      return std::nullopt;
    }
    if (n > max) {
      fail(key, "out of range");
      return std::nullopt;
    }
    return n;
  }

  std::optional<std::uint32_t> u32(std::string_view key, bool required) {
    auto n = number(key, std::numeric_limits<std::uint32_t>::max(), required);
    if (!n) return std::nullopt;
    return static_cast<std::uint32_t>(*n);
  }

  std::optional<std::string> string(std::string_view key, bool required) {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) fail(key, "missing");
      return std::nullopt;
    }
    if (!v->is_string()) {
      fail(key, "not a string");
      return std::nullopt;
    }
    return std::string(v->get_string());
  }

  // A mailbox name as Dovecot's hooks give it (UTF-8), in the spelling of the store's IMAP (modified
  // UTF-7): a device SELECTs that one, the reconciler sends it back, and both sources give one event id.
  std::optional<std::string> mailbox(std::string_view key, bool required) {
    auto name = string(key, required);
    if (!name) return std::nullopt;
    auto imap = imap::utf8_to_mutf7(*name);
    if (!imap) fail(key, "not valid UTF-8");
    return imap;
  }

  std::optional<std::vector<std::string>> strings(std::string_view key) {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    // Lua's empty table is ambiguous between [] and {}: accept an empty object as an empty list.
    if (v->is_object() && v->get_object().empty()) return std::vector<std::string>{};
    if (!v->is_array()) {
      fail(key, "not a list of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const auto& item : v->get_array()) {
      if (!item.is_string()) {
        fail(key, "not a list of strings");
        return std::nullopt;
      }
      out.emplace_back(item.get_string());
    }
    return out;
  }

  void fail(std::string_view key, std::string_view why) {
    if (error.empty()) error = where + "'" + std::string(key) + "' " + std::string(why);
  }
};

// First block of a payload's JSON arena (it grows geometrically from there).
constexpr std::size_t kArenaFirstBlock = 16 * 1024;

// Returns nullptr (and sets error) unless `body` is one JSON object; `doc` keeps it alive. The
// document lives in `doc`'s storage: one payload's tree in one monotonic arena instead of a malloc per
// value.
const json::object* parse_object(std::string_view body, json::value& doc, std::string& error) {
  json::error_code ec;
  doc = json::parse(body, ec, doc.storage());
  if (ec) {
    error = "invalid JSON: " + ec.message();
    return nullptr;
  }
  if (!doc.is_object()) {
    error = "payload is not a JSON object";
    return nullptr;
  }
  return &doc.get_object();
}

StoreEvent base_event(const std::string& user, const std::string& mailbox, std::uint32_t uidvalidity,
                      StoreEvent::Kind kind, std::int64_t observed) {
  StoreEvent e;
  e.set_user(user);
  e.set_mailbox(mailbox);
  e.set_uidvalidity(uidvalidity);
  e.set_kind(kind);
  e.set_observed_unix_us(observed);
  e.set_source(kSource);
  return e;
}

}  // namespace

HookParse parse_ox_payload(std::string_view body, std::int64_t observed_unix_us) {
  HookParse r;
  json::monotonic_resource arena(kArenaFirstBlock);
  json::value doc(&arena);
  const json::object* obj = parse_object(body, doc, r.error);
  if (obj == nullptr) return r;
  Fields f{*obj, r.error, ""};
  auto user = f.string("user", true);
  auto event = f.string("event", true);
  if (!r.error.empty()) return r;
  if (user->empty()) {
    r.error = "'user' empty";
    return r;
  }
  r.batch.user = *user;
  if (*event != "messageNew") {  // the OX driver only knows messageNew today
    r.batch.ignored = 1;
    r.ok = true;
    return r;
  }
  auto folder = f.mailbox("folder", true);
  auto uidvalidity = f.u32("imap-uidvalidity", true);
  auto uid = f.u32("imap-uid", true);
  auto from = f.string("from", false);
  auto subject = f.string("subject", false);
  auto unseen = f.u32("unseen", false);
  if (!r.error.empty()) return r;
  if (folder->empty()) {
    r.error = "'folder' empty";
    return r;
  }
  if (*uid == 0 || *uidvalidity == 0) {  // saved without a UID yet (see parse_lua_payload)
    r.batch.reconcile_mailboxes.push_back(*folder);
    r.ok = true;
    return r;
  }
  StoreEvent e = base_event(*user, *folder, *uidvalidity, StoreEvent::MESSAGE_NEW, observed_unix_us);
  e.add_uids(*uid);
  auto* m = e.add_messages();
  m->set_uid(*uid);
  if (from) m->set_from(*from);
  if (subject) m->set_subject(*subject);
  if (unseen) {
    e.mutable_status()->set_unseen(*unseen);
    e.mutable_status()->set_uidvalidity(*uidvalidity);
  }
  assign_event_id(e);
  r.batch.events.push_back(std::move(e));
  r.ok = true;
  return r;
}

namespace {

bool is_message_event(const StoreEvent& e) {
  return e.kind() == StoreEvent::MESSAGE_NEW || e.kind() == StoreEvent::MESSAGE_EXPUNGED ||
         e.kind() == StoreEvent::FLAGS_CHANGED;
}

// Dovecot reports a transaction's mails in no particular UID order (a COPY of 200 messages came as
// UIDs 771..800 then 601..770), while a device is told new mail in UID order: a NEW below a UID it
// already holds cannot be appended to its view. Each run of message events is put in (mailbox, UID)
// order: events of different messages commute, events of one message keep their order (stable),
// and mailbox events (create/rename/delete) stay where they were, so nothing moves across them.
void order_by_uid(std::vector<StoreEvent>& events) {
  auto uid_of = [](const StoreEvent& e) { return e.uids_size() > 0 ? e.uids(0) : 0u; };
  auto begin = events.begin();
  while (begin != events.end()) {
    if (!is_message_event(*begin)) {
      ++begin;
      continue;
    }
    auto end = begin + 1;
    while (end != events.end() && is_message_event(*end)) ++end;
    std::stable_sort(begin, end, [&](const StoreEvent& a, const StoreEvent& b) {
      if (a.mailbox() != b.mailbox()) return a.mailbox() < b.mailbox();
      return uid_of(a) < uid_of(b);
    });
    begin = end;
  }
}

HookParse parse_lua(const json::object* obj, std::int64_t observed_unix_us) {
  HookParse r;
  Fields top{*obj, r.error, ""};
  auto version = top.u32("v", true);
  auto user = top.string("user", true);
  if (!r.error.empty()) return r;
  if (*version != 1) {
    r.error = "unsupported payload version " + std::to_string(*version);
    return r;
  }
  if (user->empty()) {
    r.error = "'user' empty";
    return r;
  }
  r.batch.user = *user;

  // Mailbox status after the transaction, attached to that mailbox's events.
  std::map<std::string, pimap::v1::MailboxStatus> status;
  if (const auto* sv = obj->if_contains("status"); sv != nullptr && sv->is_object()) {
    for (const auto& [name, value] : sv->get_object()) {
      if (!value.is_object()) continue;
      Fields s{value.get_object(), r.error, "status." + std::string(name) + "."};
      pimap::v1::MailboxStatus st;
      if (auto n = s.u32("messages", false)) st.set_messages(*n);
      if (auto n = s.u32("uidnext", false)) st.set_uidnext(*n);
      if (auto n = s.u32("unseen", false)) st.set_unseen(*n);
      if (auto n = s.number("highestmodseq", std::numeric_limits<std::uint64_t>::max(), false))
        st.set_highestmodseq(*n);
      if (auto n = s.u32("uidvalidity", false)) st.set_uidvalidity(*n);
      if (auto imap_name = imap::utf8_to_mutf7(name)) status.emplace(std::move(*imap_name), st);
    }
    if (!r.error.empty()) return r;
  }

  const json::value* events = obj->if_contains("events");
  if (events == nullptr || !(events->is_array() || (events->is_object() && events->get_object().empty()))) {
    r.error = "'events' missing or not a list";
    return r;
  }
  if (events->is_object()) {  // empty Lua table
    r.ok = true;
    return r;
  }
  std::size_t index = 0;
  for (const auto& item : events->get_array()) {
    const std::string where = "events[" + std::to_string(index++) + "].";
    if (!item.is_object()) {
      r.error = where + " not an object";
      return r;
    }
    Fields f{item.get_object(), r.error, where};
    auto type = f.string("type", true);
    auto mailbox = f.mailbox("mailbox", true);
    if (!r.error.empty()) return r;
    auto add = [&](StoreEvent e) {
      if (auto it = status.find(e.mailbox()); it != status.end()) *e.mutable_status() = it->second;
      assign_event_id(e);
      r.batch.events.push_back(std::move(e));
    };
    auto reconcile = [&](const std::string& mb) {
      if (std::find(r.batch.reconcile_mailboxes.begin(), r.batch.reconcile_mailboxes.end(), mb) ==
          r.batch.reconcile_mailboxes.end())
        r.batch.reconcile_mailboxes.push_back(mb);
    };

    if (*type == "MessageNew" || *type == "MessageAppend" || *type == "MessageExpunge" ||
        *type == "FlagsSet" || *type == "FlagsClear") {
      // Dovecot leaves the UID 0 when it saved without assigning one: Maildir only try-locks its
      // uidlist at commit, so under concurrent LMTP deliveries the UID is given by the next sync
      // (issue #5: a third of a 50-mail burst). The change is real, only unnamed: the store says which.
      auto uidvalidity = f.u32("uidvalidity", false);
      auto uid = f.u32("uid", false);
      if (!r.error.empty()) return r;
      if (uid.value_or(0) == 0 || uidvalidity.value_or(0) == 0) {
        reconcile(*mailbox);
        continue;
      }
      if (*type == "MessageExpunge") {
        StoreEvent e = base_event(*user, *mailbox, *uidvalidity, StoreEvent::MESSAGE_EXPUNGED, observed_unix_us);
        e.add_uids(*uid);
        add(std::move(e));
      } else if (*type == "MessageNew" || *type == "MessageAppend") {
        StoreEvent e = base_event(*user, *mailbox, *uidvalidity, StoreEvent::MESSAGE_NEW, observed_unix_us);
        e.add_uids(*uid);
        auto* m = e.add_messages();
        m->set_uid(*uid);
        if (auto s = f.string("from", false)) m->set_from(*s);
        if (auto s = f.string("subject", false)) m->set_subject(*s);
        if (auto n = f.number("date", std::numeric_limits<std::int64_t>::max(), false))
          m->set_internal_date_unix(static_cast<std::int64_t>(*n));
        if (auto n = f.number("size", std::numeric_limits<std::int64_t>::max(), false)) m->set_size(*n);
        if (auto fl = f.strings("flags"))
          for (auto& fs : *fl) m->add_flags(std::move(fs));
        if (!r.error.empty()) return r;
        add(std::move(e));
      } else {  // FlagsSet / FlagsClear
        auto full = f.strings("flags");
        auto modseq = f.number("modseq", std::numeric_limits<std::uint64_t>::max(), false);
        if (!r.error.empty()) return r;
        if (!full) {
          reconcile(*mailbox);
          continue;
        }
        StoreEvent e = base_event(*user, *mailbox, *uidvalidity, StoreEvent::FLAGS_CHANGED, observed_unix_us);
        e.add_uids(*uid);
        for (auto& fs : *full) e.add_flags(std::move(fs));
        if (modseq) e.set_modseq(*modseq);
        add(std::move(e));
      }
    } else if (*type == "MailboxCreate" || *type == "MailboxDelete" || *type == "MailboxRename") {
      auto uidvalidity = f.u32("uidvalidity", false);
      const auto kind = *type == "MailboxCreate"   ? StoreEvent::MAILBOX_CREATED
                        : *type == "MailboxDelete" ? StoreEvent::MAILBOX_DELETED
                                                   : StoreEvent::MAILBOX_RENAMED;
      // Dovecot's Lua events name the mailbox only; its status after the transaction has the
      // UIDVALIDITY, which makes the id the one a reconcile run gives the same change.
      if (!uidvalidity)
        if (auto it = status.find(*mailbox); it != status.end() && it->second.uidvalidity() != 0)
          uidvalidity = it->second.uidvalidity();
      StoreEvent e = base_event(*user, *mailbox, uidvalidity.value_or(0), kind, observed_unix_us);
      if (kind == StoreEvent::MAILBOX_RENAMED) {
        auto old = f.mailbox("old_mailbox", true);
        if (!r.error.empty()) return r;
        e.set_old_mailbox(*old);
      }
      if (!r.error.empty()) return r;
      add(std::move(e));
    } else {
      ++r.batch.ignored;
    }
  }
  order_by_uid(r.batch.events);
  r.ok = true;
  return r;
}

}  // namespace

HookParse parse_lua_payload(std::string_view body, std::int64_t observed_unix_us) {
  json::monotonic_resource arena(kArenaFirstBlock);
  json::value doc(&arena);
  std::string error;
  const json::object* obj = parse_object(body, doc, error);
  if (obj == nullptr) {
    HookParse r;
    r.error = std::move(error);
    return r;
  }
  HookParse r = parse_lua(obj, observed_unix_us);
  if (r.ok) return r;
  // Rejected, yet whatever names the user and mailboxes lets the store be asked what changed.
  r.batch = HookBatch{};
  if (const auto* u = obj->if_contains("user"); u != nullptr && u->is_string()) r.batch.user = u->get_string();
  auto note = [&](std::string_view name) {
    auto mb = imap::utf8_to_mutf7(name);
    if (!mb || mb->empty()) return;
    auto& v = r.batch.reconcile_mailboxes;
    if (std::find(v.begin(), v.end(), *mb) == v.end()) v.push_back(std::move(*mb));
  };
  if (const auto* ev = obj->if_contains("events"); ev != nullptr && ev->is_array())
    for (const auto& item : ev->get_array())
      if (item.is_object())
        for (const char* key : {"mailbox", "old_mailbox"})
          if (const auto* m = item.get_object().if_contains(key); m != nullptr && m->is_string()) note(m->get_string());
  return r;
}

}  // namespace pimap::store_watcher
