#include "pimap/imap/serializer.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>

#include "command_cursor.hpp"

namespace pimap::imap {
namespace {

using detail::chars::is;
using detail::chars::kAtom;
using detail::chars::kList;

constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool atom_safe(std::string_view s, std::uint8_t cls) {
  if (s.empty() || iequals(s, "NIL")) return false;
  for (const char c : s) {
    if (!is(c, cls)) return false;
  }
  return true;
}

std::string_view search_keyword(SearchKeyKind k) {
  switch (k) {
    case SearchKeyKind::all: return "ALL";
    case SearchKeyKind::answered: return "ANSWERED";
    case SearchKeyKind::deleted: return "DELETED";
    case SearchKeyKind::draft: return "DRAFT";
    case SearchKeyKind::flagged: return "FLAGGED";
    case SearchKeyKind::new_: return "NEW";
    case SearchKeyKind::old: return "OLD";
    case SearchKeyKind::recent: return "RECENT";
    case SearchKeyKind::seen: return "SEEN";
    case SearchKeyKind::unanswered: return "UNANSWERED";
    case SearchKeyKind::undeleted: return "UNDELETED";
    case SearchKeyKind::undraft: return "UNDRAFT";
    case SearchKeyKind::unflagged: return "UNFLAGGED";
    case SearchKeyKind::unseen: return "UNSEEN";
    case SearchKeyKind::none: return "NONE";
    case SearchKeyKind::bcc: return "BCC";
    case SearchKeyKind::body: return "BODY";
    case SearchKeyKind::cc: return "CC";
    case SearchKeyKind::from: return "FROM";
    case SearchKeyKind::subject: return "SUBJECT";
    case SearchKeyKind::text: return "TEXT";
    case SearchKeyKind::to: return "TO";
    case SearchKeyKind::keyword: return "KEYWORD";
    case SearchKeyKind::unkeyword: return "UNKEYWORD";
    case SearchKeyKind::header: return "HEADER";
    case SearchKeyKind::before: return "BEFORE";
    case SearchKeyKind::on: return "ON";
    case SearchKeyKind::since: return "SINCE";
    case SearchKeyKind::sent_before: return "SENTBEFORE";
    case SearchKeyKind::sent_on: return "SENTON";
    case SearchKeyKind::sent_since: return "SENTSINCE";
    case SearchKeyKind::larger: return "LARGER";
    case SearchKeyKind::smaller: return "SMALLER";
    case SearchKeyKind::older: return "OLDER";
    case SearchKeyKind::younger: return "YOUNGER";
    case SearchKeyKind::days_before_today: return "DAYSBEFORETODAY";
    case SearchKeyKind::modseq: return "MODSEQ";
    case SearchKeyKind::uid: return "UID";
    case SearchKeyKind::not_: return "NOT";
    case SearchKeyKind::or_: return "OR";
    case SearchKeyKind::sequence_set:
    case SearchKeyKind::and_: return "";
  }
  return "";
}

}  // namespace

StringForm string_form(std::string_view s, const SerializeOptions& options) {
  if (s.size() > options.max_quoted_length) return StringForm::literal;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || u >= 0x80 || c == '\r' || c == '\n') return StringForm::literal;
  }
  return StringForm::quoted;
}

StringForm astring_form(std::string_view s, const SerializeOptions& options) {
  return atom_safe(s, kAtom) ? StringForm::atom : string_form(s, options);
}

Serializer::Serializer(std::string& out, SerializeOptions options) : out_(out), options_(options) {}

Serializer& Serializer::raw(std::string_view bytes) {
  out_ += bytes;
  return *this;
}

Serializer& Serializer::sp() {
  out_ += ' ';
  return *this;
}

Serializer& Serializer::crlf() {
  out_ += "\r\n";
  return *this;
}

Serializer& Serializer::number(std::uint64_t n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out_.append(buf, r.ptr);
  return *this;
}

void Serializer::quoted(std::string_view s) {
  out_ += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') out_ += '\\';
    out_ += c;
  }
  out_ += '"';
}

Serializer& Serializer::literal(std::string_view data, bool binary) {
  if (binary) out_ += '~';
  out_ += '{';
  number(data.size());
  const bool nonsync = options_.literal_plus || (options_.literal_minus && data.size() <= 4096);
  if (nonsync) out_ += '+';
  out_ += "}\r\n";
  if (!nonsync) sync_points_.push_back(out_.size());
  out_ += data;
  return *this;
}

Serializer& Serializer::string(std::string_view s) {
  if (string_form(s, options_) == StringForm::quoted) {
    quoted(s);
  } else {
    literal(s);
  }
  return *this;
}

Serializer& Serializer::astring(std::string_view s) {
  if (atom_safe(s, kAtom)) return raw(s);
  return string(s);
}

Serializer& Serializer::nstring(std::optional<std::string_view> s) {
  if (!s) return raw("NIL");
  return string(*s);
}

Serializer& Serializer::list_mailbox(std::string_view s) {
  if (atom_safe(s, kList)) return raw(s);
  return string(s);
}

Serializer& Serializer::sequence_set(const SequenceSet& set) {
  if (set.saved) return raw("$");
  bool first = true;
  for (const SeqRange& r : set.ranges) {
    if (!first) out_ += ',';
    first = false;
    auto one = [this](std::uint32_t n) {
      if (n == kStar) {
        out_ += '*';
      } else {
        number(n);
      }
    };
    one(r.first);
    if (r.last != r.first) {
      out_ += ':';
      one(r.last);
    }
  }
  return *this;
}

Serializer& Serializer::date(const Date& d) {
  number(d.day);
  out_ += '-';
  out_ += kMonths[(d.month >= 1 && d.month <= 12) ? d.month - 1 : 0];
  out_ += '-';
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04u", static_cast<unsigned>(d.year % 10000));
  out_ += buf;
  return *this;
}

Serializer& Serializer::date_time(const DateTime& dt) {
  const int zone = dt.zone_minutes < 0 ? -dt.zone_minutes : dt.zone_minutes;
  char buf[40];
  std::snprintf(buf, sizeof buf, "\"%02u-%s-%04u %02u:%02u:%02u %c%02d%02d\"", unsigned{dt.date.day},
                kMonths[(dt.date.month >= 1 && dt.date.month <= 12) ? dt.date.month - 1 : 0].data(),
                static_cast<unsigned>(dt.date.year % 10000), unsigned{dt.hour}, unsigned{dt.minute},
                unsigned{dt.second}, dt.zone_minutes < 0 ? '-' : '+', (zone / 60) % 100, zone % 60);
  out_ += buf;
  return *this;
}

Serializer& Serializer::flag_list(const std::vector<std::string_view>& flags) {
  out_ += '(';
  for (std::size_t i = 0; i < flags.size(); ++i) {
    if (i != 0) out_ += ' ';
    out_ += flags[i];
  }
  out_ += ')';
  return *this;
}

void Serializer::section(const Section& s) {
  out_ += '[';
  for (std::size_t i = 0; i < s.part.size(); ++i) {
    if (i != 0) out_ += '.';
    number(s.part[i]);
  }
  if (s.text != SectionText::none && !s.part.empty()) out_ += '.';
  switch (s.text) {
    case SectionText::none: break;
    case SectionText::header: out_ += "HEADER"; break;
    case SectionText::header_fields: out_ += "HEADER.FIELDS"; break;
    case SectionText::header_fields_not: out_ += "HEADER.FIELDS.NOT"; break;
    case SectionText::text: out_ += "TEXT"; break;
    case SectionText::mime: out_ += "MIME"; break;
  }
  if (s.text == SectionText::header_fields || s.text == SectionText::header_fields_not) {
    out_ += " (";
    for (std::size_t i = 0; i < s.fields.size(); ++i) {
      if (i != 0) out_ += ' ';
      astring(s.fields[i]);
    }
    out_ += ')';
  }
  out_ += ']';
}

Serializer& Serializer::fetch_att(const FetchAtt& att) {
  auto partial = [this, &att] {
    if (!att.partial) return;
    out_ += '<';
    number(att.partial->offset);
    out_ += '.';
    number(att.partial->length);
    out_ += '>';
  };
  switch (att.kind) {
    case FetchAttKind::envelope: return raw("ENVELOPE");
    case FetchAttKind::flags: return raw("FLAGS");
    case FetchAttKind::internaldate: return raw("INTERNALDATE");
    case FetchAttKind::rfc822: return raw("RFC822");
    case FetchAttKind::rfc822_header: return raw("RFC822.HEADER");
    case FetchAttKind::rfc822_size: return raw("RFC822.SIZE");
    case FetchAttKind::rfc822_text: return raw("RFC822.TEXT");
    case FetchAttKind::body: return raw("BODY");
    case FetchAttKind::bodystructure: return raw("BODYSTRUCTURE");
    case FetchAttKind::uid: return raw("UID");
    case FetchAttKind::modseq: return raw("MODSEQ");
    case FetchAttKind::other: return raw(att.name);
    case FetchAttKind::body_section:
      out_ += att.peek ? "BODY.PEEK" : "BODY";
      section(att.section);
      partial();
      return *this;
    case FetchAttKind::binary:
    case FetchAttKind::binary_size: {
      out_ += att.kind == FetchAttKind::binary_size ? "BINARY.SIZE" : (att.peek ? "BINARY.PEEK" : "BINARY");
      Section parts;
      parts.part = att.section.part;
      section(parts);
      if (att.kind == FetchAttKind::binary) partial();
      return *this;
    }
  }
  return *this;
}

Serializer& Serializer::search_key(const SearchKey& key) {
  switch (key.kind) {
    case SearchKeyKind::and_:
      out_ += '(';
      for (std::size_t i = 0; i < key.children.size(); ++i) {
        if (i != 0) out_ += ' ';
        search_key(key.children[i]);
      }
      out_ += ')';
      return *this;
    case SearchKeyKind::sequence_set:
      return sequence_set(key.set);
    default:
      break;
  }
  raw(search_keyword(key.kind));
  switch (key.kind) {
    case SearchKeyKind::bcc:
    case SearchKeyKind::body:
    case SearchKeyKind::cc:
    case SearchKeyKind::from:
    case SearchKeyKind::subject:
    case SearchKeyKind::text:
    case SearchKeyKind::to:
      sp().astring(key.text);
      break;
    case SearchKeyKind::keyword:
    case SearchKeyKind::unkeyword:
      sp().raw(key.text);
      break;
    case SearchKeyKind::header:
      sp().astring(key.text).sp().astring(key.text2);
      break;
    case SearchKeyKind::before:
    case SearchKeyKind::on:
    case SearchKeyKind::since:
    case SearchKeyKind::sent_before:
    case SearchKeyKind::sent_on:
    case SearchKeyKind::sent_since:
      sp().date(key.date);
      break;
    case SearchKeyKind::larger:
    case SearchKeyKind::smaller:
    case SearchKeyKind::older:
    case SearchKeyKind::younger:
    case SearchKeyKind::days_before_today:
      sp().number(key.number);
      break;
    case SearchKeyKind::modseq:
      if (!key.text.empty() || !key.text2.empty()) {
        sp();
        quoted(key.text);
        sp().raw(key.text2);
      }
      sp().number(key.number);
      break;
    case SearchKeyKind::uid:
      sp().sequence_set(key.set);
      break;
    case SearchKeyKind::not_:
    case SearchKeyKind::or_:
      for (const SearchKey& child : key.children) sp().search_key(child);
      break;
    default:
      break;
  }
  return *this;
}

Serializer& Serializer::arg(const Arg& a) {
  switch (a.kind) {
    case Arg::Kind::atom: return raw(a.text);
    case Arg::Kind::quoted:
    case Arg::Kind::literal:
      if (a.binary) return literal(a.text, true);
      return string(a.text);
    case Arg::Kind::list:
      out_ += '(';
      for (std::size_t i = 0; i < a.items.size(); ++i) {
        if (i != 0) out_ += ' ';
        arg(a.items[i]);
      }
      out_ += ')';
      return *this;
  }
  return *this;
}

Serializer& Serializer::command(const Command& cmd) {
  raw(cmd.tag).sp();
  if (cmd.uid) raw("UID ");
  if (cmd.kind == CommandKind::other) {
    raw(cmd.name);
  } else if (cmd.kind == CommandKind::xgetpimappref && cmd.as<GetPimapPref>() != nullptr &&
             cmd.as<GetPimapPref>()->plural) {
    raw("XGETPIMAPPREFS");
  } else {
    raw(command_name(cmd.kind));
  }
  body(cmd);
  if (cmd.kind != CommandKind::xzip) crlf();
  return *this;
}

void Serializer::body(const Command& cmd) {
  struct Visitor {
    Serializer& s;
    const Command& cmd;
    void list_of_atoms(const std::vector<std::string_view>& v) {
      s.raw("(");
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i != 0) s.sp();
        s.raw(v[i]);
      }
      s.raw(")");
    }
    void args(const std::vector<Arg>& v) {
      for (const Arg& a : v) s.sp().arg(a);
    }
    void operator()(const NoArgs&) {}
    void operator()(const Authenticate& a) {
      s.sp().raw(a.mechanism);
      if (a.initial_response) s.sp().raw(a.initial_response->empty() ? "=" : *a.initial_response);
    }
    void operator()(const Login& l) { s.sp().astring(l.user).sp().astring(l.password); }
    void operator()(const Select& sel) {
      s.sp().astring(sel.mailbox);
      if (!sel.condstore && !sel.qresync) return;
      s.raw(" (");
      if (sel.condstore) s.raw("CONDSTORE");
      if (sel.qresync) {
        const Qresync& q = *sel.qresync;
        if (sel.condstore) s.sp();
        s.raw("QRESYNC (").number(q.uidvalidity).sp().number(q.modseq);
        if (q.known_uids) s.sp().sequence_set(*q.known_uids);
        if (q.seq_match_seqs && q.seq_match_uids) {
          s.raw(" (").sequence_set(*q.seq_match_seqs).sp().sequence_set(*q.seq_match_uids).raw(")");
        }
        s.raw(")");
      }
      s.raw(")");
    }
    void operator()(const MailboxArg& m) { s.sp().astring(m.mailbox); }
    void operator()(const Rename& r) { s.sp().astring(r.from).sp().astring(r.to); }
    void operator()(const List& l) {
      s.sp();
      if (!l.selection.empty()) {
        list_of_atoms(l.selection);
        s.sp();
      }
      s.astring(l.reference).sp();
      if (l.patterns.size() == 1) {
        s.list_mailbox(l.patterns.front());
      } else {
        s.raw("(");
        for (std::size_t i = 0; i < l.patterns.size(); ++i) {
          if (i != 0) s.sp();
          s.list_mailbox(l.patterns[i]);
        }
        s.raw(")");
      }
      if (!l.return_options.empty()) {
        s.raw(" RETURN (");
        for (std::size_t i = 0; i < l.return_options.size(); ++i) {
          if (i != 0) s.sp();
          s.arg(l.return_options[i]);
        }
        s.raw(")");
      }
    }
    void operator()(const Status& st) {
      s.sp().astring(st.mailbox).sp();
      list_of_atoms(st.items);
    }
    void operator()(const Append& a) {
      s.sp().astring(a.mailbox);
      for (const AppendMessage& m : a.messages) {
        s.sp();
        if (!m.flags.empty()) s.flag_list(m.flags).sp();
        if (m.internal_date) s.date_time(*m.internal_date).sp();
        const bool nul = std::memchr(m.data.data(), '\0', m.data.size()) != nullptr;
        s.literal(m.data, m.binary || nul);
      }
    }
    void operator()(const Search& se) {
      if (se.return_options) {
        s.raw(" RETURN ");
        list_of_atoms(*se.return_options);
      }
      if (se.charset) s.raw(" CHARSET ").astring(*se.charset);
      for (const SearchKey& k : se.keys) s.sp().search_key(k);
    }
    void operator()(const Fetch& f) {
      s.sp().sequence_set(f.set).sp();
      switch (f.macro) {
        case FetchMacro::all: s.raw("ALL"); break;
        case FetchMacro::fast: s.raw("FAST"); break;
        case FetchMacro::full: s.raw("FULL"); break;
        case FetchMacro::none:
          s.raw("(");
          for (std::size_t i = 0; i < f.atts.size(); ++i) {
            if (i != 0) s.sp();
            s.fetch_att(f.atts[i]);
          }
          s.raw(")");
          break;
      }
      if (f.changed_since) {
        s.raw(" (CHANGEDSINCE ").number(*f.changed_since);
        if (f.vanished) s.raw(" VANISHED");
        s.raw(")");
      }
    }
    void operator()(const Store& st) {
      s.sp().sequence_set(st.set).sp();
      if (st.unchanged_since) s.raw("(UNCHANGEDSINCE ").number(*st.unchanged_since).raw(") ");
      if (st.mode == StoreMode::add) s.raw("+");
      if (st.mode == StoreMode::remove) s.raw("-");
      s.raw(st.silent ? "FLAGS.SILENT " : "FLAGS ").flag_list(st.flags);
    }
    void operator()(const CopyMove& m) { s.sp().sequence_set(m.set).sp().astring(m.mailbox); }
    void operator()(const UidExpunge& e) { s.sp().sequence_set(e.set); }
    void operator()(const Enable& e) {
      for (std::string_view c : e.capabilities) s.sp().raw(c);
    }
    void operator()(const Compress& c) { s.sp().raw(c.mechanism); }
    void operator()(const SetPimapPref& p) {
      for (const PimapPref& pref : p.prefs) {
        s.sp().raw(pref.name).sp();
        if (pref.value.kind == Arg::Kind::list && !pref.fetch_atts.empty() && pref.value.items.empty()) {
          s.raw("(");
          for (std::size_t i = 0; i < pref.fetch_atts.size(); ++i) {
            if (i != 0) s.sp();
            s.fetch_att(pref.fetch_atts[i]);
          }
          s.raw(")");
        } else {
          s.arg(pref.value);
        }
      }
    }
    void operator()(const GetPimapPref& g) {
      if (g.names.empty()) return;
      s.sp();
      if (g.parenthesised || g.names.size() > 1) {
        list_of_atoms(g.names);
      } else {
        s.raw(g.names.front());
      }
    }
    void operator()(const Provision& p) { args(p.args); }
    void operator()(const Filter& f) {
      s.sp();
      if (f.all_mailboxes) {
        s.raw("ALL");
      } else if (iequals(f.mailbox, "ALL")) {
        s.quoted(f.mailbox);
      } else {
        s.astring(f.mailbox);
      }
      s.raw(f.type == FilterType::view ? " V" : f.type == FilterType::notification ? " N" : " B");
      if (f.get) {
        s.raw(" GET");
        return;
      }
      for (const SearchKey& k : f.criteria) s.sp().search_key(k);
    }
    void operator()(const Deliver& d) {
      switch (d.mode) {
        case DeliverMode::new_message: s.raw(" N"); break;
        case DeliverMode::reply: s.raw(" R"); break;
        case DeliverMode::forward: s.raw(" F"); break;
      }
      if (d.mode != DeliverMode::new_message) {
        s.sp().astring(d.mailbox).sp().number(d.uid).raw(d.include_attachments ? " Y" : " N");
      }
      if (d.save_to) s.raw(" SAVETO=").astring(*d.save_to);
      s.sp().literal(d.message);
    }
    void operator()(const Xzip& z) {
      s.sp();
      if (z.inner) s.command(*z.inner);
    }
    void operator()(const Convert& c) {
      s.sp().number(c.number).sp();
      for (std::size_t i = 0; i < c.part.size(); ++i) {
        if (i != 0) s.raw(".");
        s.number(c.part[i]);
      }
      s.raw(" AS ").raw(c.type).raw("/").raw(c.subtype);
      if (c.params.empty()) return;
      s.raw(" (");
      for (std::size_t i = 0; i < c.params.size(); ++i) {
        if (i != 0) s.sp();
        s.raw(c.params[i].first).sp().astring(c.params[i].second);
      }
      s.raw(")");
    }
    void operator()(const Macro& m) {
      switch (m.op) {
        case MacroOp::define: s.raw(" DEFINE ").raw(m.name); break;
        case MacroOp::run: s.raw(" RUN ").raw(m.name); break;
        case MacroOp::list: s.raw(" LIST"); break;
        case MacroOp::delete_: s.raw(" DELETE ").raw(m.name); break;
      }
      args(m.args);
    }
    void operator()(const Generic& g) { args(g.args); }
  };
  std::visit(Visitor{*this, cmd}, cmd.body);
}

std::string serialize(const Command& cmd, const SerializeOptions& options) {
  std::string out;
  Serializer(out, options).command(cmd);
  return out;
}

std::string to_string(const SequenceSet& set) {
  std::string out;
  Serializer(out).sequence_set(set);
  return out;
}

}  // namespace pimap::imap
