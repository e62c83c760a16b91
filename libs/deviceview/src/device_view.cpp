#include "pimap/deviceview/device_view.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace pimap::deviceview {

namespace {

// A positive decimal that fits T.
template <typename T>
std::optional<T> positive(std::string_view s) {
  T v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v == 0) return std::nullopt;
  return v;
}

std::optional<std::uint32_t> number(std::string_view s) { return positive<std::uint32_t>(s); }

// Calls item(left, right) for every "left[:right]" of a comma-separated list (right: nullopt without
// a colon); false as soon as `item` refuses one.
template <class Item>
bool each_item(std::string_view s, Item item) {
  while (!s.empty()) {
    const auto comma = s.find(',');
    const std::string_view one = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    const auto colon = one.find(':');
    const auto right = colon == std::string_view::npos ? std::nullopt : std::optional(one.substr(colon + 1));
    if (!item(one.substr(0, colon), right)) return false;
  }
  return true;
}

// "1:5,9" as MailboxView::to_string writes it.
std::optional<MailboxView> uid_set(std::string_view s) {
  MailboxView v;
  const bool ok = each_item(s, [&](std::string_view left, std::optional<std::string_view> right) {
    const auto first = number(left);
    const auto last = right ? number(*right) : first;
    if (!first || !last) return false;
    v.add_range(*first, *last);
    return true;
  });
  if (!ok) return std::nullopt;
  return v;
}

// "7:250,9:251" as encode_view writes it.
std::optional<ShownModseqs> shown_list(std::string_view s) {
  ShownModseqs out;
  const bool ok = each_item(s, [&](std::string_view left, std::optional<std::string_view> right) {
    const auto uid = number(left);
    const auto modseq = right ? positive<std::uint64_t>(*right) : std::nullopt;
    if (!uid || !modseq) return false;
    out[*uid] = *modseq;
    return true;
  });
  if (!ok || out.size() > kMaxShownModseqs) return std::nullopt;
  return out;
}

}  // namespace

void record_shown_modseq(ShownModseqs& shown, std::uint32_t uid, std::uint64_t modseq, std::uint64_t floor) {
  if (floor == 0 || modseq <= floor) return;
  auto& at = shown[uid];
  at = std::max(at, modseq);
  if (shown.size() <= kMaxShownModseqs) return;
  // Over the bound: forget the oldest change; its late event, if any, is told (harmless, only repeated).
  auto lowest = shown.begin();
  for (auto it = shown.begin(); it != shown.end(); ++it) {
    if (it->second < lowest->second) lowest = it;
  }
  shown.erase(lowest);
}

std::map<std::string, std::string> encode_view(const DeviceView& view) {
  std::map<std::string, std::string> out;
  std::string enabled;
  for (const auto& e : view.enabled) {
    if (!enabled.empty()) enabled += ' ';
    enabled += e;
  }
  out["e"] = enabled;
  if (view.mailbox) {
    out["c"] = view.mailbox->select_command;
    out["f"] = view.mailbox->name;
    if (view.mailbox->uidvalidity != 0) out["uv"] = std::to_string(view.mailbox->uidvalidity);
    if (view.mailbox->modseq_floor != 0) out["ms"] = std::to_string(view.mailbox->modseq_floor);
    out["u"] = view.mailbox->uids.to_string();
    if (!view.mailbox->shown_modseqs.empty()) {
      std::string sm;
      for (const auto& [uid, modseq] : view.mailbox->shown_modseqs) {
        if (!sm.empty()) sm += ',';
        sm += std::to_string(uid) + ':' + std::to_string(modseq);
      }
      out["sm"] = std::move(sm);
    }
  }
  return out;
}

std::optional<DeviceView> decode_view(const std::map<std::string, std::string>& saved) {
  const auto e = saved.find("e");
  if (e == saved.end()) return std::nullopt;
  DeviceView view;
  std::string_view atoms = e->second;
  while (!atoms.empty()) {
    const auto sp = atoms.find(' ');
    if (sp != 0) view.enabled.emplace_back(atoms.substr(0, sp));
    atoms = sp == std::string_view::npos ? std::string_view{} : atoms.substr(sp + 1);
  }
  const auto c = saved.find("c");
  if (c == saved.end()) return view;
  const auto f = saved.find("f");
  const auto u = saved.find("u");
  if (f == saved.end() || u == saved.end() || c->second.empty()) return std::nullopt;
  DeviceView::Mailbox m;
  m.name = f->second;
  m.select_command = c->second;
  if (const auto uv = saved.find("uv"); uv != saved.end()) {
    const auto n = number(uv->second);
    if (!n) return std::nullopt;
    m.uidvalidity = *n;
  }
  if (const auto ms = saved.find("ms"); ms != saved.end()) {
    const auto n = positive<std::uint64_t>(ms->second);
    if (!n) return std::nullopt;
    m.modseq_floor = *n;
  }
  if (const auto sm = saved.find("sm"); sm != saved.end()) {
    auto shown = shown_list(sm->second);
    if (!shown) return std::nullopt;
    m.shown_modseqs = std::move(*shown);
  }
  auto uids = uid_set(u->second);
  if (!uids) return std::nullopt;
  m.uids = std::move(*uids);
  view.mailbox = std::move(m);
  return view;
}

}  // namespace pimap::deviceview
