#include "pimap/imap/values.hpp"

#include <algorithm>

#include "pimap/imap/fetch.hpp"
#include "pimap/imap/search.hpp"

namespace pimap::imap {

bool SequenceSet::contains(std::uint32_t n, std::uint32_t largest) const {
  for (const SeqRange& r : ranges) {
    std::uint32_t a = r.first == kStar ? largest : r.first;
    std::uint32_t b = r.last == kStar ? largest : r.last;
    if (a > b) std::swap(a, b);
    if (n >= a && n <= b) return true;
  }
  return false;
}

bool SequenceSet::uses_star() const {
  return std::any_of(ranges.begin(), ranges.end(),
                     [](const SeqRange& r) { return r.first == kStar || r.last == kStar; });
}

bool Arg::is_atom(std::string_view upper_case_word) const {
  return kind == Kind::atom && iequals(text, upper_case_word);
}

bool operator==(const Arg& a, const Arg& b) {
  if (a.is_string() != b.is_string()) return false;
  if (!a.is_string() && a.kind != b.kind) return false;
  return a.binary == b.binary && a.text == b.text && a.items == b.items;
}

bool operator==(const SearchKey& a, const SearchKey& b) {
  return a.kind == b.kind && a.text == b.text && a.text2 == b.text2 && a.date == b.date &&
         a.number == b.number && a.set == b.set && a.children == b.children;
}

std::vector<FetchAtt> expand(FetchMacro macro) {
  auto att = [](FetchAttKind k) {
    FetchAtt a;
    a.kind = k;
    return a;
  };
  switch (macro) {
    case FetchMacro::none:
      return {};
    case FetchMacro::fast:
      return {att(FetchAttKind::flags), att(FetchAttKind::internaldate), att(FetchAttKind::rfc822_size)};
    case FetchMacro::all:
      return {att(FetchAttKind::flags), att(FetchAttKind::internaldate), att(FetchAttKind::rfc822_size),
              att(FetchAttKind::envelope)};
    case FetchMacro::full:
      return {att(FetchAttKind::flags), att(FetchAttKind::internaldate), att(FetchAttKind::rfc822_size),
              att(FetchAttKind::envelope), att(FetchAttKind::body)};
  }
  return {};
}

}  // namespace pimap::imap
