// SEARCH keys: RFC 9051/3501 search-key, RFC 7162 MODSEQ, RFC 5032 OLDER/YOUNGER, profile §7
// DAYSBEFORETODAY and NONE.

#include "command_grammar.hpp"

namespace pimap::imap::detail {
namespace {

enum class ArgType : std::uint8_t { none, astring, flag, header, date, number, number64, nz_number,
                                    modseq, set, not_, or_ };

struct KeyDef {
  std::string_view name;
  SearchKeyKind kind;
  ArgType arg;
};

constexpr KeyDef kKeys[] = {
    {"ALL", SearchKeyKind::all, ArgType::none},
    {"ANSWERED", SearchKeyKind::answered, ArgType::none},
    {"DELETED", SearchKeyKind::deleted, ArgType::none},
    {"DRAFT", SearchKeyKind::draft, ArgType::none},
    {"FLAGGED", SearchKeyKind::flagged, ArgType::none},
    {"NEW", SearchKeyKind::new_, ArgType::none},
    {"OLD", SearchKeyKind::old, ArgType::none},
    {"RECENT", SearchKeyKind::recent, ArgType::none},
    {"SEEN", SearchKeyKind::seen, ArgType::none},
    {"UNANSWERED", SearchKeyKind::unanswered, ArgType::none},
    {"UNDELETED", SearchKeyKind::undeleted, ArgType::none},
    {"UNDRAFT", SearchKeyKind::undraft, ArgType::none},
    {"UNFLAGGED", SearchKeyKind::unflagged, ArgType::none},
    {"UNSEEN", SearchKeyKind::unseen, ArgType::none},
    {"BCC", SearchKeyKind::bcc, ArgType::astring},
    {"BODY", SearchKeyKind::body, ArgType::astring},
    {"CC", SearchKeyKind::cc, ArgType::astring},
    {"FROM", SearchKeyKind::from, ArgType::astring},
    {"SUBJECT", SearchKeyKind::subject, ArgType::astring},
    {"TEXT", SearchKeyKind::text, ArgType::astring},
    {"TO", SearchKeyKind::to, ArgType::astring},
    {"KEYWORD", SearchKeyKind::keyword, ArgType::flag},
    {"UNKEYWORD", SearchKeyKind::unkeyword, ArgType::flag},
    {"HEADER", SearchKeyKind::header, ArgType::header},
    {"BEFORE", SearchKeyKind::before, ArgType::date},
    {"ON", SearchKeyKind::on, ArgType::date},
    {"SINCE", SearchKeyKind::since, ArgType::date},
    {"SENTBEFORE", SearchKeyKind::sent_before, ArgType::date},
    {"SENTON", SearchKeyKind::sent_on, ArgType::date},
    {"SENTSINCE", SearchKeyKind::sent_since, ArgType::date},
    {"LARGER", SearchKeyKind::larger, ArgType::number64},
    {"SMALLER", SearchKeyKind::smaller, ArgType::number64},
    {"OLDER", SearchKeyKind::older, ArgType::nz_number},
    {"YOUNGER", SearchKeyKind::younger, ArgType::nz_number},
    {"DAYSBEFORETODAY", SearchKeyKind::days_before_today, ArgType::number},
    {"MODSEQ", SearchKeyKind::modseq, ArgType::modseq},
    {"UID", SearchKeyKind::uid, ArgType::set},
    {"NOT", SearchKeyKind::not_, ArgType::not_},
    {"OR", SearchKeyKind::or_, ArgType::or_},
};

bool starts_set(char c) { return (c >= '0' && c <= '9') || c == '*' || c == '$'; }

}  // namespace

SearchKey parse_search_key(Cursor& c, bool allow_none) {
  Cursor::Depth depth(c);
  SearchKey key;
  const char first = c.peek();
  if (first == '(') {
    c.try_char('(');
    c.count_argument();
    key.kind = SearchKeyKind::and_;
    for (;;) {
      key.children.push_back(parse_search_key(c, allow_none));
      if (c.try_char(')')) return key;
      c.sp();
    }
  }
  if (starts_set(first)) {
    key.kind = SearchKeyKind::sequence_set;
    key.set = c.sequence_set();
    return key;
  }
  const std::string_view name = c.atom();
  if (allow_none && iequals(name, "NONE")) {
    key.kind = SearchKeyKind::none;
    return key;
  }
  const KeyDef* def = nullptr;
  for (const KeyDef& d : kKeys) {
    if (iequals(name, d.name)) {
      def = &d;
      break;
    }
  }
  if (def == nullptr) c.fail("unknown search key '" + std::string(name) + "'");
  key.kind = def->kind;
  switch (def->arg) {
    case ArgType::none:
      break;
    case ArgType::astring:
      c.sp();
      key.text = c.astring();
      break;
    case ArgType::flag:
      c.sp();
      key.text = c.atom();  // flag-keyword
      break;
    case ArgType::header:
      c.sp();
      key.text = c.astring();
      c.sp();
      key.text2 = c.astring();
      break;
    case ArgType::date:
      c.sp();
      key.date = c.date();
      break;
    case ArgType::number:
      c.sp();
      key.number = c.number();
      break;
    case ArgType::number64:
      c.sp();
      key.number = c.number64();
      break;
    case ArgType::nz_number:
      c.sp();
      key.number = c.nz_number();
      break;
    case ArgType::modseq:
      c.sp();
      if (c.peek() == '"') {  // entry-name SP entry-type-req
        key.text = c.quoted();
        c.sp();
        key.text2 = c.atom();
        if (!iequals(key.text2, "priv") && !iequals(key.text2, "shared") && !iequals(key.text2, "all")) {
          c.fail("MODSEQ entry type must be priv, shared or all");
        }
        c.sp();
      }
      key.number = c.mod_sequence(true);
      break;
    case ArgType::set:
      c.sp();
      key.set = c.sequence_set();
      break;
    case ArgType::not_:
      c.sp();
      key.children.push_back(parse_search_key(c, allow_none));
      break;
    case ArgType::or_:
      c.sp();
      key.children.push_back(parse_search_key(c, allow_none));
      c.sp();
      key.children.push_back(parse_search_key(c, allow_none));
      break;
  }
  return key;
}

}  // namespace pimap::imap::detail
