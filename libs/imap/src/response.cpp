#include "pimap/imap/response.hpp"

namespace pimap::imap {

void ListData::clear() noexcept {
  attributes = {};
  delimiter.reset();
  mailbox = {};
  extended.clear();
  childinfo_subscribed = false;
  oldname.reset();
}

void StatusData::clear() noexcept {
  mailbox = {};
  items.clear();
  messages.reset();
  recent.reset();
  uidnext.reset();
  uidvalidity.reset();
  unseen.reset();
  deleted.reset();
  highestmodseq.reset();
  size.reset();
}

void ESearchData::clear() noexcept {
  tag.reset();
  uid = false;
  min.reset();
  max.reset();
  count.reset();
  all.reset();
  modseq.reset();
  other.clear();
}

const FetchItem* FetchData::find(FetchAttr a) const noexcept {
  for (const auto& it : items)
    if (it.attr == a) return &it;
  return nullptr;
}

const FetchItem* FetchData::find_section(std::string_view section, FetchAttr a) const noexcept {
  for (const auto& it : items)
    if (it.attr == a && it.has_section && ascii_iequals(it.section, section)) return &it;
  return nullptr;
}

std::optional<std::uint32_t> FetchData::uid() const noexcept {
  if (const FetchItem* it = find(FetchAttr::uid)) return static_cast<std::uint32_t>(it->number);
  return std::nullopt;
}

std::optional<std::uint64_t> FetchData::modseq() const noexcept {
  if (const FetchItem* it = find(FetchAttr::modseq)) return it->number;
  return std::nullopt;
}

void Response::clear() noexcept {
  kind = ResponseKind::untagged;
  raw = {};
  tag = {};
  untagged = UntaggedKind::none;
  name = {};
  status = ResponseStatus::none;
  code = {};
  text = {};
  number = 0;
  has_number = false;
  atoms = {};
  list.clear();
  status_data.clear();
  search.clear();
  esearch.clear();
  vanished = {};
  fetch.clear();
  id.clear();
  metadata.clear();
  namespaces.clear();
  tree.clear();
  arena.clear();
}

std::string_view to_string(ResponseStatus s) noexcept {
  switch (s) {
    case ResponseStatus::none: return "";
    case ResponseStatus::ok: return "OK";
    case ResponseStatus::no: return "NO";
    case ResponseStatus::bad: return "BAD";
    case ResponseStatus::preauth: return "PREAUTH";
    case ResponseStatus::bye: return "BYE";
  }
  return "";
}

std::string_view to_string(UntaggedKind k) noexcept {
  switch (k) {
    case UntaggedKind::none: return "none";
    case UntaggedKind::condition: return "condition";
    case UntaggedKind::capability: return "CAPABILITY";
    case UntaggedKind::enabled: return "ENABLED";
    case UntaggedKind::flags: return "FLAGS";
    case UntaggedKind::list: return "LIST";
    case UntaggedKind::lsub: return "LSUB";
    case UntaggedKind::status: return "STATUS";
    case UntaggedKind::exists: return "EXISTS";
    case UntaggedKind::recent: return "RECENT";
    case UntaggedKind::expunge: return "EXPUNGE";
    case UntaggedKind::fetch: return "FETCH";
    case UntaggedKind::search: return "SEARCH";
    case UntaggedKind::sort: return "SORT";
    case UntaggedKind::esearch: return "ESEARCH";
    case UntaggedKind::vanished: return "VANISHED";
    case UntaggedKind::id: return "ID";
    case UntaggedKind::metadata: return "METADATA";
    case UntaggedKind::namespace_: return "NAMESPACE";
    case UntaggedKind::other: return "other";
  }
  return "";
}

}  // namespace pimap::imap
