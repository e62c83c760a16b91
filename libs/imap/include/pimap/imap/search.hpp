#pragma once

// SEARCH keys: RFC 9051/3501 §6.4.4, MODSEQ (RFC 7162), OLDER/YOUNGER (RFC 5032), and the profile's
// DAYSBEFORETODAY and NONE (profile §7; NONE only inside XFILTER criteria).

#include <cstdint>
#include <string_view>
#include <vector>

#include "pimap/imap/values.hpp"

namespace pimap::imap {

enum class SearchKeyKind : std::uint8_t {
  // no argument
  all, answered, deleted, draft, flagged, new_, old, recent, seen,
  unanswered, undeleted, undraft, unflagged, unseen, none,
  // astring argument in `text`
  bcc, body, cc, from, subject, text, to,
  // flag-keyword in `text`
  keyword, unkeyword,
  // field name in `text`, value in `text2`
  header,
  // date argument
  before, on, since, sent_before, sent_on, sent_since,
  // number argument
  larger, smaller, older, younger, days_before_today,
  // MODSEQ [entry-name entry-type] number: entry name in `text`, type in `text2` (both empty if absent)
  modseq,
  // sequence set (`set`): UID set or message set
  uid, sequence_set,
  // sub-keys in `children`
  not_,  // 1 child
  or_,   // 2 children
  and_,  // a parenthesised list: all children must match
};

struct SearchKey {
  SearchKeyKind kind = SearchKeyKind::all;
  std::string_view text;
  std::string_view text2;
  Date date;
  std::uint64_t number = 0;
  SequenceSet set;
  std::vector<SearchKey> children;

  friend bool operator==(const SearchKey& a, const SearchKey& b);
};

}  // namespace pimap::imap
