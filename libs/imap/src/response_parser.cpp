// Grammar of server responses (RFC 3501 section 9 / RFC 9051 section 9 plus extensions), one framed
// response at a time. Values that are expensive to decode and rarely needed (ENVELOPE, BODYSTRUCTURE,
// unknown FETCH attributes) are only delimited here; see response_body.cpp and response_tree.cpp.

#include <cstring>
#include <new>

#include "pimap/imap/response_reader.hpp"
#include "response_lexer.hpp"

namespace pimap::imap {

namespace {

using detail::kAttNameStop;
using detail::kBracket;
using detail::kChars;
using detail::kCloseBracket;
using detail::kDigit;
using detail::keyword_is;
using detail::Lexer;

std::string_view span(const char* a, const char* b) noexcept {
  return {a, static_cast<std::size_t>(b - a)};
}

class Parser {
 public:
  Parser(std::string_view body, Response& r, const ResponseLimits& limits, const char* origin)
      : lx_(body, r.arena, limits.max_depth, origin), r_(r), limits_(limits), origin_(origin) {}

  bool parse() {
    if (lx_.at_end()) return lx_.fail(ResponseErrc::empty_line, "response");
    const char c = lx_.peek();
    if (c == '+') {
      lx_.eat('+');
      r_.kind = ResponseKind::continuation;
      lx_.eat(' ');
      // `+ [ALERT] text` is allowed by the grammar but nobody sends it; keep everything as text
      r_.text = lx_.rest();
      return true;
    }
    if (c == '*') {
      lx_.eat('*');
      r_.kind = ResponseKind::untagged;
      return lx_.sp() && untagged();
    }
    r_.kind = ResponseKind::tagged;
    // tag = 1*<any ASTRING-CHAR except "+">
    std::string_view tag = lx_.token(kBracket);
    if (tag.empty() || tag.find('+') != std::string_view::npos) {
      return lx_.fail(ResponseErrc::bad_start, "'*', '+' or a tag");
    }
    r_.tag = tag;
    if (!lx_.sp()) return false;
    std::string_view word;
    if (!lx_.atom(word, kBracket, "OK, NO or BAD")) return false;
    r_.name = word;
    if (keyword_is(word, "OK")) {
      r_.status = ResponseStatus::ok;
    } else if (keyword_is(word, "NO")) {
      r_.status = ResponseStatus::no;
    } else if (keyword_is(word, "BAD")) {
      r_.status = ResponseStatus::bad;
    } else {
      lx_.set_pos(word.data());
      return lx_.fail(ResponseErrc::syntax, "OK, NO or BAD");
    }
    return resp_text();
  }

 private:
  // resp-text = ["[" resp-text-code "]" SP] text ; lenient about the SP and an empty text.
  bool resp_text() {
    if (lx_.at_end()) return true;
    if (!lx_.sp()) return false;
    if (lx_.peek() == '[') {
      lx_.eat('[');
      if (!resp_code()) return false;
      lx_.eat(' ');
    }
    r_.text = lx_.rest();
    return true;
  }

  bool resp_code() {
    ResponseCode& code = r_.code;
    std::string_view name;
    if (!lx_.atom(name, kCloseBracket, "response code")) return false;
    code.name = name;
    const char* args_begin = lx_.pos();
    if (lx_.eat(' ')) args_begin = lx_.pos();
    const char* close = static_cast<const char*>(
        std::memchr(lx_.pos(), ']', static_cast<std::size_t>(lx_.end() - lx_.pos())));
    if (!close) return lx_.fail(ResponseErrc::unexpected_end, "']'");
    code.args = span(args_begin, close);
    lx_.set_pos(close + 1);
    return classify_code(code);
  }

  bool code_number(ResponseCode& code) {
    Lexer a(code.args, r_.arena, limits_.max_depth, origin_);
    if (a.number64(code.number) && (a.at_end() || a.fail(ResponseErrc::syntax, "']'"))) return true;
    return fail_from(a);
  }

  bool code_sets(ResponseCode& code, int sets) {
    Lexer a(code.args, r_.arena, limits_.max_depth, origin_);
    if (!a.number64(code.number, "uidvalidity") || !a.sp()) return fail_from(a);
    std::string_view s1 = a.token(kCloseBracket);
    if (!NumberSet::valid(s1)) return fail_at(s1.data(), "uid-set");
    code.set1 = NumberSet(s1);
    if (sets == 2) {
      if (!a.sp()) return fail_from(a);
      std::string_view s2 = a.token(kCloseBracket);
      if (!NumberSet::valid(s2)) return fail_at(s2.data(), "uid-set");
      code.set2 = NumberSet(s2);
    }
    return a.at_end() || fail_at(a.pos(), "']'");
  }

  static std::string_view strip_parens(std::string_view s) noexcept {
    if (s.size() >= 2 && s.front() == '(' && s.back() == ')') return s.substr(1, s.size() - 2);
    return s;
  }

  bool classify_code(ResponseCode& code) {
    using K = ResponseCodeKind;
    const std::string_view n = code.name;
    switch (detail::ascii_upper(n[0])) {
      case 'A':
        if (keyword_is(n, "ALERT")) return (code.kind = K::alert), true;
        if (keyword_is(n, "APPENDUID")) return (code.kind = K::appenduid), code_sets(code, 1);
        break;
      case 'B':
        if (keyword_is(n, "BADCHARSET")) {
          code.kind = K::badcharset;
          code.list = AtomList(strip_parens(code.args));
          return true;
        }
        if (keyword_is(n, "BADEVENT")) {
          code.kind = K::badevent;
          code.list = AtomList(strip_parens(code.args));
          return true;
        }
        break;
      case 'C':
        if (keyword_is(n, "CAPABILITY")) {
          code.kind = K::capability;
          code.list = AtomList(code.args);
          return true;
        }
        if (keyword_is(n, "COPYUID")) return (code.kind = K::copyuid), code_sets(code, 2);
        if (keyword_is(n, "CLOSED")) return (code.kind = K::closed), true;
        if (keyword_is(n, "COMPRESSIONACTIVE")) return (code.kind = K::compressionactive), true;
        break;
      case 'H':
        if (keyword_is(n, "HIGHESTMODSEQ")) return (code.kind = K::highestmodseq), code_number(code);
        break;
      case 'M':
        if (keyword_is(n, "MODIFIED")) {
          code.kind = K::modified;
          if (!NumberSet::valid(code.args)) return fail_at(code.args.data(), "sequence-set");
          code.set1 = NumberSet(code.args);
          return true;
        }
        if (keyword_is(n, "METADATA")) return (code.kind = K::metadata), true;
        break;
      case 'N':
        if (keyword_is(n, "NOMODSEQ")) return (code.kind = K::nomodseq), true;
        if (keyword_is(n, "NOTIFICATIONOVERFLOW")) return (code.kind = K::notificationoverflow), true;
        break;
      case 'P':
        if (keyword_is(n, "PARSE")) return (code.kind = K::parse), true;
        if (keyword_is(n, "PERMANENTFLAGS")) {
          code.kind = K::permanentflags;
          code.list = AtomList(strip_parens(code.args));
          return true;
        }
        break;
      case 'R':
        if (keyword_is(n, "READ-ONLY")) return (code.kind = K::read_only), true;
        if (keyword_is(n, "READ-WRITE")) return (code.kind = K::read_write), true;
        break;
      case 'T':
        if (keyword_is(n, "TRYCREATE")) return (code.kind = K::trycreate), true;
        break;
      case 'U':
        if (keyword_is(n, "UIDNEXT")) return (code.kind = K::uidnext), code_number(code);
        if (keyword_is(n, "UIDVALIDITY")) return (code.kind = K::uidvalidity), code_number(code);
        if (keyword_is(n, "UNSEEN")) return (code.kind = K::unseen), code_number(code);
        if (keyword_is(n, "UIDNOTSTICKY")) return (code.kind = K::uidnotsticky), true;
        break;
      default:
        break;
    }
    code.kind = K::other;
    return true;
  }

  bool untagged() {
    if (kChars[lx_.peek()] & kDigit) {
      if (!lx_.number32(r_.number) || !lx_.sp()) return false;
      r_.has_number = true;
      std::string_view word;
      if (!lx_.atom(word, kBracket, "message data keyword")) return false;
      r_.name = word;
      if (keyword_is(word, "FETCH")) {
        r_.untagged = UntaggedKind::fetch;
        return lx_.sp() && fetch() && end();
      }
      if (keyword_is(word, "EXISTS")) return (r_.untagged = UntaggedKind::exists), end();
      if (keyword_is(word, "EXPUNGE")) return (r_.untagged = UntaggedKind::expunge), end();
      if (keyword_is(word, "RECENT")) return (r_.untagged = UntaggedKind::recent), end();
      return other();
    }
    std::string_view word;
    if (!lx_.atom(word, kBracket, "response keyword")) return false;
    r_.name = word;
    switch (detail::ascii_upper(word[0])) {
      case 'O':
        if (keyword_is(word, "OK")) return condition(ResponseStatus::ok);
        break;
      case 'N':
        if (keyword_is(word, "NO")) return condition(ResponseStatus::no);
        if (keyword_is(word, "NAMESPACE")) return (r_.untagged = UntaggedKind::namespace_), namespaces();
        break;
      case 'B':
        if (keyword_is(word, "BAD")) return condition(ResponseStatus::bad);
        if (keyword_is(word, "BYE")) return condition(ResponseStatus::bye);
        break;
      case 'P':
        if (keyword_is(word, "PREAUTH")) return condition(ResponseStatus::preauth);
        break;
      case 'C':
        if (keyword_is(word, "CAPABILITY")) {
          r_.untagged = UntaggedKind::capability;
          if (!lx_.sp()) return false;
          r_.atoms = AtomList(lx_.rest());
          return true;
        }
        break;
      case 'E':
        if (keyword_is(word, "ENABLED")) {
          r_.untagged = UntaggedKind::enabled;
          lx_.skip_spaces();
          r_.atoms = AtomList(lx_.rest());
          return true;
        }
        if (keyword_is(word, "ESEARCH")) return (r_.untagged = UntaggedKind::esearch), esearch();
        break;
      case 'F':
        if (keyword_is(word, "FLAGS")) {
          r_.untagged = UntaggedKind::flags;
          return lx_.sp() && flag_list(r_.atoms) && end();
        }
        break;
      case 'L':
        if (keyword_is(word, "LIST")) return (r_.untagged = UntaggedKind::list), mailbox_list();
        if (keyword_is(word, "LSUB")) return (r_.untagged = UntaggedKind::lsub), mailbox_list();
        break;
      case 'S':
        if (keyword_is(word, "STATUS")) return (r_.untagged = UntaggedKind::status), status();
        if (keyword_is(word, "SEARCH")) return (r_.untagged = UntaggedKind::search), search();
        if (keyword_is(word, "SORT")) return (r_.untagged = UntaggedKind::sort), search();
        break;
      case 'V':
        if (keyword_is(word, "VANISHED")) return (r_.untagged = UntaggedKind::vanished), vanished();
        break;
      case 'I':
        if (keyword_is(word, "ID")) return (r_.untagged = UntaggedKind::id), id();
        break;
      case 'M':
        if (keyword_is(word, "METADATA")) return (r_.untagged = UntaggedKind::metadata), metadata();
        break;
      default:
        break;
    }
    return other();
  }

  bool end() {
    lx_.skip_spaces();
    return lx_.at_end() || lx_.fail(ResponseErrc::syntax, "end of response");
  }

  bool condition(ResponseStatus s) {
    r_.untagged = UntaggedKind::condition;
    r_.status = s;
    return resp_text();
  }

  bool other() {
    r_.untagged = UntaggedKind::other;
    if (lx_.at_end()) return true;
    if (!lx_.sp_lenient()) return false;
    return detail::parse_tree_values(lx_, r_.tree);
  }

  // "(" [flag *(SP flag)] ")" ; flags never contain parentheses.
  bool flag_list(AtomList& out) {
    if (!lx_.expect('(', "'('")) return false;
    const char* s = lx_.pos();
    const char* e = s;
    while (e < lx_.end() && *e != ')' && *e != '(' && *e != '"' && *e != '{') ++e;
    if (e >= lx_.end() || *e != ')') {
      lx_.set_pos(e);
      return lx_.fail_syntax("')' closing flag list");
    }
    out = AtomList(span(s, e));
    lx_.set_pos(e + 1);
    return true;
  }

  // LIST / LSUB: "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
  //              [SP "(" mbox-list-extended-item *(SP ...) ")"]
  bool mailbox_list() {
    ListData& l = r_.list;
    if (!lx_.sp() || !flag_list(l.attributes) || !lx_.sp()) return false;
    if (lx_.peek() == '"') {
      std::string_view d;
      if (!lx_.quoted(d)) return false;
      if (d.size() != 1) return lx_.fail(ResponseErrc::syntax, "one-character hierarchy delimiter");
      l.delimiter = d[0];
    } else {
      std::string_view nil = lx_.token(kBracket);
      if (!keyword_is(nil, "NIL")) return lx_.fail_syntax("delimiter or NIL");
    }
    if (!lx_.sp() || !lx_.astring(l.mailbox)) return false;
    if (lx_.at_end()) return true;
    if (!lx_.sp() || !lx_.expect('(', "'(' of extended items")) return false;
    if (lx_.eat(')')) return end();
    for (;;) {
      std::string_view tag;
      std::string_view value;
      if (!lx_.astring(tag) || !lx_.sp()) return false;
      const char* vstart = lx_.pos();
      if (!lx_.skip_value(value)) return false;
      l.extended.emplace_back(tag, value);
      if (keyword_is(tag, "CHILDINFO")) {
        ResponseTree t;
        Lexer sub(value, r_.arena, limits_.max_depth, origin_);
        if (!detail::parse_tree_values(sub, t)) return fail_from(sub);
        if (t.size() == 1 && t[0].is_list()) {
          for (std::uint32_t i = 0; i < t[0].size(); ++i)
            if (ascii_iequals(t[0][i].text(), "SUBSCRIBED")) l.childinfo_subscribed = true;
        }
      } else if (keyword_is(tag, "OLDNAME")) {
        lx_.set_pos(vstart);
        std::string_view old;
        if (!lx_.expect('(', "'(' of OLDNAME") || !lx_.astring(old) ||
            !lx_.expect(')', "')' of OLDNAME")) {
          return false;
        }
        l.oldname = old;
      }
      if (lx_.eat(')')) return end();
      if (!lx_.sp()) return false;
    }
  }

  // STATUS mailbox SP "(" [status-att-val *(SP status-att-val)] ")"
  bool status() {
    StatusData& s = r_.status_data;
    if (!lx_.sp() || !lx_.astring(s.mailbox) || !lx_.sp_lenient() || !lx_.expect('(', "'('")) return false;
    if (lx_.eat(')')) return end();
    for (;;) {
      StatusData::Item item;
      if (!lx_.atom(item.name, kBracket, "status item") || !lx_.sp()) return false;
      if (kChars[lx_.peek()] & kDigit) {
        if (!lx_.number64(item.value)) return false;
      } else {
        std::string_view v;
        if (!lx_.skip_value(v)) return false;
        if (!keyword_is(v, "NIL")) return lx_.fail(ResponseErrc::syntax, "number or NIL");
        item.nil = true;
      }
      s.items.push_back(item);
      if (!item.nil) assign_status(s, item);
      if (lx_.eat(')')) return end();
      if (!lx_.sp()) return false;
    }
  }

  static void assign_status(StatusData& s, const StatusData::Item& item) noexcept {
    const std::string_view n = item.name;
    const bool fits32 = item.value <= UINT32_MAX;
    const auto v32 = static_cast<std::uint32_t>(item.value);
    if (keyword_is(n, "MESSAGES")) {
      if (fits32) s.messages = v32;
    } else if (keyword_is(n, "UIDNEXT")) {
      if (fits32) s.uidnext = v32;
    } else if (keyword_is(n, "UIDVALIDITY")) {
      if (fits32) s.uidvalidity = v32;
    } else if (keyword_is(n, "UNSEEN")) {
      if (fits32) s.unseen = v32;
    } else if (keyword_is(n, "RECENT")) {
      if (fits32) s.recent = v32;
    } else if (keyword_is(n, "DELETED")) {
      if (fits32) s.deleted = v32;
    } else if (keyword_is(n, "HIGHESTMODSEQ")) {
      s.highestmodseq = item.value;
    } else if (keyword_is(n, "SIZE")) {
      s.size = item.value;
    }
  }

  // SEARCH / SORT: *(SP nz-number) [SP "(" "MODSEQ" SP mod-sequence-value ")"]
  bool search() {
    SearchData& s = r_.search;
    for (;;) {
      lx_.skip_spaces();
      if (lx_.at_end()) return true;
      if (lx_.peek() == '(') {
        lx_.eat('(');
        std::string_view w;
        std::uint64_t m = 0;
        if (!lx_.atom(w, kBracket, "MODSEQ") || !keyword_is(w, "MODSEQ")) {
          return lx_.fail(ResponseErrc::syntax, "MODSEQ");
        }
        if (!lx_.sp() || !lx_.number64(m) || !lx_.expect(')', "')'")) return false;
        s.modseq = m;
        return end();
      }
      std::uint32_t n = 0;
      if (!lx_.number32(n)) return false;
      s.numbers.push_back(n);
      if (!lx_.at_end() && lx_.peek() != ' ') return lx_.fail(ResponseErrc::syntax, "SP");
    }
  }

  // ESEARCH [search-correlator] [SP "UID"] *(SP search-return-data)
  bool esearch() {
    ESearchData& e = r_.esearch;
    lx_.skip_spaces();
    if (lx_.peek() == '(') {
      lx_.eat('(');
      std::string_view w;
      std::string_view tag;
      if (!lx_.atom(w, kBracket, "TAG") || !keyword_is(w, "TAG")) return lx_.fail(ResponseErrc::syntax, "TAG");
      if (!lx_.sp() || !lx_.string(tag) || !lx_.expect(')', "')'")) return false;
      e.tag = tag;
    }
    for (;;) {
      lx_.skip_spaces();
      if (lx_.at_end()) return true;
      std::string_view name;
      if (!lx_.atom(name, kBracket, "search return data")) return false;
      if (keyword_is(name, "UID")) {
        e.uid = true;
        continue;
      }
      if (!lx_.sp()) return false;
      if (keyword_is(name, "MIN") || keyword_is(name, "MAX") || keyword_is(name, "COUNT")) {
        std::uint32_t n = 0;
        if (!lx_.number32(n)) return false;
        (keyword_is(name, "MIN") ? e.min : keyword_is(name, "MAX") ? e.max : e.count) = n;
      } else if (keyword_is(name, "ALL")) {
        std::string_view set = lx_.token(kBracket);
        if (!NumberSet::valid(set)) return lx_.fail(ResponseErrc::syntax, "sequence-set");
        e.all = NumberSet(set);
      } else if (keyword_is(name, "MODSEQ")) {
        std::uint64_t m = 0;
        if (!lx_.number64(m)) return false;
        e.modseq = m;
      } else {
        std::string_view v;
        if (!lx_.skip_value(v)) return false;
        e.other.emplace_back(name, v);
      }
    }
  }

  // VANISHED [(EARLIER) SP] known-uids
  bool vanished() {
    if (!lx_.sp()) return false;
    if (lx_.peek() == '(') {
      lx_.eat('(');
      std::string_view w;
      if (!lx_.atom(w, kBracket, "EARLIER") || !keyword_is(w, "EARLIER")) {
        return lx_.fail(ResponseErrc::syntax, "EARLIER");
      }
      if (!lx_.expect(')', "')'") || !lx_.sp()) return false;
      r_.vanished.earlier = true;
    }
    std::string_view set = lx_.token(kBracket);
    if (!NumberSet::valid(set)) return lx_.fail(ResponseErrc::syntax, "uid-set");
    r_.vanished.uids = NumberSet(set);
    return end();
  }

  // ID SP ( "(" string SP nstring *(SP string SP nstring) ")" / nil )
  bool id() {
    IdData& d = r_.id;
    if (!lx_.sp()) return false;
    if (lx_.peek() != '(') {
      std::string_view nil = lx_.token(kBracket);
      if (!keyword_is(nil, "NIL")) return lx_.fail_syntax("'(' or NIL");
      return end();
    }
    lx_.eat('(');
    d.nil = false;
    if (lx_.eat(')')) return end();
    for (;;) {
      std::string_view k;
      NStringView v;
      if (!lx_.string(k) || !lx_.sp() || !lx_.nstring(v)) return false;
      d.fields.emplace_back(k, v);
      if (lx_.eat(')')) return end();
      if (!lx_.sp()) return false;
    }
  }

  // METADATA SP mailbox SP ( "(" entry SP value *(SP entry SP value) ")" / entry *(SP entry) )
  bool metadata() {
    MetadataData& m = r_.metadata;
    if (!lx_.sp() || !lx_.astring(m.mailbox) || !lx_.sp()) return false;
    if (lx_.eat('(')) {
      m.has_values = true;
      for (;;) {
        std::string_view entry;
        NStringView v;
        if (!lx_.astring(entry) || !lx_.sp() || !lx_.nstring(v)) return false;
        m.entries.emplace_back(entry, v);
        if (lx_.eat(')')) return end();
        if (!lx_.sp()) return false;
      }
    }
    for (;;) {
      std::string_view entry;
      if (!lx_.astring(entry)) return false;
      m.entries.emplace_back(entry, NStringView{});
      lx_.skip_spaces();
      if (lx_.at_end()) return true;
    }
  }

  // NAMESPACE SP nsdesc SP nsdesc SP nsdesc
  bool namespaces() {
    NamespaceData& n = r_.namespaces;
    return lx_.sp() && ns_desc(n.personal) && lx_.sp() && ns_desc(n.other_users) && lx_.sp() &&
           ns_desc(n.shared) && end();
  }

  bool ns_desc(std::vector<NamespaceData::Descr>& out) {
    if (lx_.peek() != '(') {
      std::string_view nil = lx_.token(kBracket);
      return keyword_is(nil, "NIL") || lx_.fail_syntax("'(' or NIL");
    }
    lx_.eat('(');
    for (;;) {
      NamespaceData::Descr d;
      if (!lx_.expect('(', "'('") || !lx_.string(d.prefix) || !lx_.sp()) return false;
      if (lx_.peek() == '"') {
        std::string_view delim;
        if (!lx_.quoted(delim)) return false;
        if (delim.size() != 1) return lx_.fail(ResponseErrc::syntax, "one-character delimiter");
        d.delimiter = delim[0];
      } else {
        std::string_view nil = lx_.token(kBracket);
        if (!keyword_is(nil, "NIL")) return lx_.fail_syntax("delimiter or NIL");
      }
      // extensions: *(SP string SP "(" string *(SP string) ")"), kept raw
      const char* ext = lx_.pos();
      while (lx_.peek() == ' ') {
        std::string_view ignored;
        if (!lx_.sp() || !lx_.skip_value(ignored) || !lx_.sp() || !lx_.skip_value(ignored)) return false;
      }
      d.extensions = span(ext, lx_.pos());
      if (!d.extensions.empty()) d.extensions.remove_prefix(1);
      if (!lx_.expect(')', "')'")) return false;
      out.push_back(d);
      if (lx_.eat(')')) return true;
    }
  }

  // FETCH: "(" msg-att-item *(SP msg-att-item) ")"
  bool fetch() {
    if (!lx_.expect('(', "'(' of FETCH data")) return false;
    std::vector<FetchItem>& items = r_.fetch.items;
    if (lx_.eat(')')) return true;
    for (;;) {
      FetchItem& it = items.emplace_back();
      if (!fetch_item(it)) return false;
      if (lx_.eat(')')) return true;
      if (!lx_.sp()) return false;
    }
  }

  static FetchAttr classify_att(std::string_view n, bool section) noexcept {
    switch (detail::ascii_upper(n[0])) {
      case 'U':
        if (keyword_is(n, "UID")) return FetchAttr::uid;
        break;
      case 'F':
        if (keyword_is(n, "FLAGS")) return FetchAttr::flags;
        break;
      case 'I':
        if (keyword_is(n, "INTERNALDATE")) return FetchAttr::internaldate;
        break;
      case 'R':
        if (keyword_is(n, "RFC822.SIZE")) return FetchAttr::rfc822_size;
        if (keyword_is(n, "RFC822")) return FetchAttr::rfc822;
        if (keyword_is(n, "RFC822.HEADER")) return FetchAttr::rfc822_header;
        if (keyword_is(n, "RFC822.TEXT")) return FetchAttr::rfc822_text;
        break;
      case 'E':
        if (keyword_is(n, "ENVELOPE")) return FetchAttr::envelope;
        break;
      case 'B':
        if (keyword_is(n, "BODY")) return section ? FetchAttr::body_section : FetchAttr::body;
        if (keyword_is(n, "BODYSTRUCTURE")) return FetchAttr::bodystructure;
        if (keyword_is(n, "BINARY") && section) return FetchAttr::binary_section;
        if (keyword_is(n, "BINARY.SIZE") && section) return FetchAttr::binary_size;
        break;
      case 'M':
        if (keyword_is(n, "MODSEQ")) return FetchAttr::modseq;
        break;
      default:
        break;
    }
    return FetchAttr::other;
  }

  bool fetch_item(FetchItem& it) {
    if (!lx_.atom(it.name, kAttNameStop, "FETCH attribute")) return false;
    if (lx_.peek() == '[') {
      lx_.eat('[');
      // section-spec may hold a header list with quoted names: honour quotes when looking for ']'
      const char* s = lx_.pos();
      const char* p = s;
      while (p < lx_.end() && *p != ']') {
        if (*p == '"') {
          lx_.set_pos(p);
          std::string_view ignored;
          if (!lx_.quoted(ignored)) return false;
          p = lx_.pos();
          continue;
        }
        if (*p == '\r' || *p == '\n') break;
        ++p;
      }
      if (p >= lx_.end() || *p != ']') {
        lx_.set_pos(p);
        return lx_.fail_syntax("']' closing section");
      }
      it.section = span(s, p);
      it.has_section = true;
      lx_.set_pos(p + 1);
      if (lx_.eat('<')) {
        if (!lx_.number32(it.origin, "origin octet") || !lx_.expect('>', "'>'")) return false;
        it.has_origin = true;
      }
    }
    it.attr = classify_att(it.name, it.has_section);
    if (!lx_.sp()) return false;
    const char* v = lx_.pos();
    bool ok = true;
    switch (it.attr) {
      case FetchAttr::uid:
        ok = lx_.number64(it.number, "uid") &&
             (it.number <= UINT32_MAX || lx_.fail(ResponseErrc::number_overflow, "uid"));
        break;
      case FetchAttr::rfc822_size:
      case FetchAttr::binary_size:
        ok = lx_.number64(it.number);
        break;
      case FetchAttr::modseq:
        ok = lx_.expect('(', "'(' of MODSEQ") && lx_.number64(it.number, "mod-sequence") &&
             lx_.expect(')', "')' of MODSEQ");
        break;
      case FetchAttr::flags:
        ok = flag_list(it.flags);
        break;
      case FetchAttr::envelope:
      case FetchAttr::bodystructure:
      case FetchAttr::body:
        ok = lx_.peek() == '(' ? lx_.skip_list() : lx_.fail_syntax("'('");
        break;
      case FetchAttr::internaldate:
      case FetchAttr::body_section:
      case FetchAttr::binary_section:
      case FetchAttr::rfc822:
      case FetchAttr::rfc822_header:
      case FetchAttr::rfc822_text:
        ok = lx_.nstring(it.string);
        break;
      case FetchAttr::other: {
        std::string_view ignored;
        ok = lx_.skip_value(ignored);
        break;
      }
    }
    it.raw = span(v, lx_.pos());
    return ok;
  }

  // Sub-lexers over a part of the response share its origin, so their offsets are already right.
  bool fail_from(const Lexer& sub) { return lx_.fail_with(sub.error()); }
  bool fail_at(const char* p, std::string_view what) {
    lx_.set_pos(p);
    return lx_.fail(ResponseErrc::syntax, what);
  }

 public:
  const ResponseError& error() const noexcept { return lx_.error(); }

 private:
  Lexer lx_;
  Response& r_;
  const ResponseLimits& limits_;
  const char* origin_;
};

}  // namespace

ResponseError parse_response(std::string_view raw, Response& out, const ResponseLimits& limits) {
  out.clear();
  out.raw = raw;
  std::string_view body = raw;
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
  try {
    Parser p(body, out, limits, raw.data());
    if (!p.parse()) return p.error();
    return {};
  } catch (const std::bad_alloc&) {
    return {ResponseErrc::out_of_memory, 0, {}};
  }
}

}  // namespace pimap::imap
