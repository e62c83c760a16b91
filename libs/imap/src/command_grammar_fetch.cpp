// FETCH attributes: RFC 9051 §6.4.5 / RFC 3501 fetch-att, RFC 3516 BINARY, RFC 7162 MODSEQ.

#include "command_grammar.hpp"

namespace pimap::imap::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME" (letters and dots).
std::string_view section_keyword(Cursor& c) {
  const std::size_t start = c.pos();
  std::size_t p = start;
  const std::string_view buf = c.buf();
  while (p < buf.size() && (is_alpha(buf[p]) || buf[p] == '.')) ++p;
  if (p == start) c.fail_expected("a section (HEADER, HEADER.FIELDS, TEXT, MIME or a part number)");
  c.set_pos(p);
  return buf.substr(start, p - start);
}

void header_list(Cursor& c, Section& s) {
  c.sp();
  c.expect('(');
  Cursor::Depth depth(c);
  s.fields.reserve(8);
  for (;;) {
    s.fields.push_back(c.astring());
    if (c.try_char(')')) break;
    c.sp();
  }
}

// "[" section-spec "]" for BODY; `binary_only` for BINARY's "[" [section-part] "]".
Section section(Cursor& c, bool binary_only) {
  Section s;
  c.expect('[');
  if (c.try_char(']')) return s;
  bool want_text = true;
  if (is_digit(c.peek())) {
    want_text = false;
    for (;;) {
      s.part.push_back(c.nz_number());
      if (c.peek() == '.' && is_digit(c.peek(1))) {
        c.try_char('.');
        continue;
      }
      break;
    }
    if (!binary_only && c.peek() == '.') {
      c.try_char('.');
      want_text = true;
    }
  } else if (binary_only) {
    c.fail("BINARY takes only a part number in its section");
  }
  if (want_text) {
    const std::string_view kw = section_keyword(c);
    if (iequals(kw, "HEADER")) {
      s.text = SectionText::header;
    } else if (iequals(kw, "HEADER.FIELDS")) {
      s.text = SectionText::header_fields;
      header_list(c, s);
    } else if (iequals(kw, "HEADER.FIELDS.NOT")) {
      s.text = SectionText::header_fields_not;
      header_list(c, s);
    } else if (iequals(kw, "TEXT")) {
      s.text = SectionText::text;
    } else if (iequals(kw, "MIME") && !s.part.empty()) {
      s.text = SectionText::mime;
    } else {
      c.fail("unknown section '" + std::string(kw) + "'");
    }
  }
  c.expect(']');
  return s;
}

std::optional<Partial> partial(Cursor& c) {
  if (!c.try_char('<')) return std::nullopt;
  Partial p;
  p.offset = c.number();
  c.expect('.');
  p.length = c.nz_number();
  c.expect('>');
  return p;
}

struct Simple {
  std::string_view name;
  FetchAttKind kind;
};
constexpr Simple kSimple[] = {
    {"ENVELOPE", FetchAttKind::envelope},       {"FLAGS", FetchAttKind::flags},
    {"INTERNALDATE", FetchAttKind::internaldate}, {"RFC822", FetchAttKind::rfc822},
    {"RFC822.HEADER", FetchAttKind::rfc822_header}, {"RFC822.SIZE", FetchAttKind::rfc822_size},
    {"RFC822.TEXT", FetchAttKind::rfc822_text}, {"BODYSTRUCTURE", FetchAttKind::bodystructure},
    {"UID", FetchAttKind::uid},                 {"MODSEQ", FetchAttKind::modseq},
};

}  // namespace

FetchAtt parse_fetch_att(Cursor& c) {
  const std::string_view name = c.word();
  FetchAtt att;
  const bool bracket = c.peek() == '[';
  if (iequals(name, "BODY") || iequals(name, "BODY.PEEK")) {
    att.peek = name.size() > 4;
    if (!bracket) {
      if (att.peek) c.fail("BODY.PEEK needs a section");
      att.kind = FetchAttKind::body;
      return att;
    }
    att.kind = FetchAttKind::body_section;
    att.section = section(c, false);
    att.partial = partial(c);
    return att;
  }
  if (iequals(name, "BINARY") || iequals(name, "BINARY.PEEK") || iequals(name, "BINARY.SIZE")) {
    if (!bracket) c.fail(std::string(name) + " needs a section");
    const bool size = iequals(name, "BINARY.SIZE");
    att.kind = size ? FetchAttKind::binary_size : FetchAttKind::binary;
    att.peek = iequals(name, "BINARY.PEEK");
    att.section = section(c, true);
    if (!size) att.partial = partial(c);
    return att;
  }
  if (bracket) c.fail("'" + std::string(name) + "' takes no section");
  for (const Simple& s : kSimple) {
    if (iequals(name, s.name)) {
      att.kind = s.kind;
      return att;
    }
  }
  if (iequals(name, "ALL") || iequals(name, "FAST") || iequals(name, "FULL")) {
    c.fail("the macro " + std::string(name) + " cannot be combined with other attributes");
  }
  att.kind = FetchAttKind::other;
  att.name = name;
  return att;
}

std::vector<FetchAtt> parse_fetch_att_list(Cursor& c) {
  c.expect('(');
  Cursor::Depth depth(c);
  std::vector<FetchAtt> atts;
  atts.reserve(8);
  for (;;) {
    atts.push_back(parse_fetch_att(c));
    if (c.try_char(')')) return atts;
    c.sp();
  }
}

}  // namespace pimap::imap::detail
