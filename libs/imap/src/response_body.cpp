#include "pimap/imap/response_body.hpp"

#include <new>

#include "response_lexer.hpp"

namespace pimap::imap {

namespace {

using detail::kBracket;
using detail::keyword_is;
using detail::Lexer;

class BodyParser {
 public:
  BodyParser(std::string_view raw, StringArena& arena, std::size_t max_depth)
      : lx_(raw, arena, max_depth, raw.data()) {}

  const ResponseError& error() const noexcept { return lx_.error(); }
  bool finish() {
    lx_.skip_spaces();
    return lx_.at_end() || lx_.fail(ResponseErrc::syntax, "end of value");
  }

  // envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP env-to SP
  //            env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"
  bool envelope(FetchEnvelopeFields& e) {
    return lx_.expect('(', "'(' of envelope") && lx_.nstring(e.date) && lx_.sp() && lx_.nstring(e.subject) &&
           lx_.sp() && addresses(e.from) && lx_.sp() && addresses(e.sender) && lx_.sp() &&
           addresses(e.reply_to) && lx_.sp() && addresses(e.to) && lx_.sp() && addresses(e.cc) && lx_.sp() &&
           addresses(e.bcc) && lx_.sp() && lx_.nstring(e.in_reply_to) && lx_.sp() &&
           lx_.nstring(e.message_id) && lx_.expect(')', "')' of envelope");
  }

  // body = "(" (body-type-1part / body-type-mpart) ")"
  bool body(FetchBodyPart& b) {
    if (!lx_.enter()) return false;
    if (!lx_.expect('(', "'(' of body")) return false;
    const bool ok = lx_.peek() == '(' ? multipart(b) : single(b);
    if (!ok) return false;
    lx_.leave();
    return lx_.expect(')', "')' of body");
  }

 private:
  bool nil() {
    std::string_view w = lx_.token(kBracket);
    return keyword_is(w, "NIL") || lx_.fail_syntax("NIL");
  }

  // "(" 1*address ")" / nil ; address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
  bool addresses(std::vector<FetchAddress>& out) {
    if (lx_.peek() != '(') return nil();
    lx_.eat('(');
    while (!lx_.eat(')')) {
      FetchAddress a;
      if (!lx_.expect('(', "'(' of address") || !lx_.nstring(a.name) || !lx_.sp() || !lx_.nstring(a.adl) ||
          !lx_.sp() || !lx_.nstring(a.mailbox) || !lx_.sp() || !lx_.nstring(a.host) ||
          !lx_.expect(')', "')' of address")) {
        return false;
      }
      out.push_back(a);
      lx_.eat(' ');  // not in the grammar, but some servers separate addresses
    }
    return true;
  }

  // body-fld-param = "(" string SP string *(SP string SP string) ")" / nil
  bool params(FetchParams& out) {
    if (lx_.peek() != '(') return nil();
    lx_.eat('(');
    if (lx_.eat(')')) return true;  // "()" is not allowed, but harmless
    for (;;) {
      std::string_view k;
      std::string_view v;
      if (!lx_.string(k) || !lx_.sp() || !lx_.string(v)) return false;
      out.emplace_back(k, v);
      if (lx_.eat(')')) return true;
      if (!lx_.sp()) return false;
    }
  }

  bool number(std::uint64_t& n) { return lx_.number64(n); }

  // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
  bool multipart(FetchBodyPart& b) {
    b.multipart = true;
    b.type = "MULTIPART";
    while (lx_.peek() == '(') {
      FetchBodyPart& child = b.parts.emplace_back();
      if (!body(child)) return false;
      lx_.skip_spaces();
    }
    if (!lx_.string(b.subtype)) return false;
    if (lx_.peek() != ' ') return true;
    // body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]
    b.has_extension = true;
    return lx_.sp() && params(b.params) && extension_tail(b);
  }

  // body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]
  bool single(FetchBodyPart& b) {
    if (!lx_.string(b.type) || !lx_.sp() || !lx_.string(b.subtype) || !lx_.sp()) return false;
    // body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP body-fld-octets
    if (!params(b.params) || !lx_.sp() || !lx_.nstring(b.id) || !lx_.sp() || !lx_.nstring(b.description) ||
        !lx_.sp() || !lx_.nstring(b.encoding) || !lx_.sp() || !number(b.size)) {
      return false;
    }
    if (ascii_iequals(b.type, "MESSAGE") && (ascii_iequals(b.subtype, "RFC822") || ascii_iequals(b.subtype, "GLOBAL"))) {
      // body-type-msg: SP envelope SP body SP body-fld-lines. Some servers omit them for broken
      // messages; accept their absence.
      if (lx_.peek() == ' ' && lx_.pos() + 1 < lx_.end() && lx_.pos()[1] == '(') {
        b.envelope = std::make_unique<FetchEnvelopeFields>();
        FetchBodyPart& child = b.parts.emplace_back();
        if (!lx_.sp() || !envelope(*b.envelope) || !lx_.sp() || !body(child) || !lx_.sp() || !number(b.lines)) {
          return false;
        }
      }
    } else if (ascii_iequals(b.type, "TEXT")) {
      if (!lx_.sp() || !number(b.lines)) return false;
    }
    if (lx_.peek() != ' ') return true;
    // body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]
    b.has_extension = true;
    return lx_.sp() && lx_.nstring(b.md5) && extension_tail(b);
  }

  // [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]
  bool extension_tail(FetchBodyPart& b) {
    if (lx_.peek() != ' ') return true;
    if (!lx_.sp()) return false;
    // body-fld-dsp = "(" string SP body-fld-param ")" / nil
    if (lx_.peek() == '(') {
      lx_.eat('(');
      b.disposition.nil = false;
      if (!lx_.string(b.disposition.str) || !lx_.sp() || !params(b.disposition_params) ||
          !lx_.expect(')', "')' of disposition")) {
        return false;
      }
    } else if (!nil()) {
      return false;
    }
    if (lx_.peek() != ' ') return true;
    if (!lx_.sp()) return false;
    // body-fld-lang = nstring / "(" string *(SP string) ")"
    if (lx_.peek() == '(') {
      lx_.eat('(');
      for (;;) {
        std::string_view l;
        if (!lx_.string(l)) return false;
        b.language.push_back(l);
        if (lx_.eat(')')) break;
        if (!lx_.sp()) return false;
      }
    } else {
      NStringView l;
      if (!lx_.nstring(l)) return false;
      if (l) b.language.push_back(l.str);
    }
    if (lx_.peek() != ' ') return true;
    if (!lx_.sp() || !lx_.nstring(b.location)) return false;
    // *(SP body-extension): kept raw
    const char* s = lx_.pos();
    while (lx_.peek() == ' ') {
      std::string_view ignored;
      if (!lx_.sp() || !lx_.skip_value(ignored)) return false;
    }
    if (lx_.pos() > s) b.more_extensions = std::string_view(s + 1, static_cast<std::size_t>(lx_.pos() - s - 1));
    return true;
  }

  Lexer lx_;
};

}  // namespace

ResponseError parse_envelope(std::string_view raw, FetchEnvelope& out) {
  static_cast<FetchEnvelopeFields&>(out) = FetchEnvelopeFields{};
  out.arena.clear();
  try {
    BodyParser p(raw, out.arena, 4);
    if (!p.envelope(out) || !p.finish()) return p.error();
    return {};
  } catch (const std::bad_alloc&) {
    return {ResponseErrc::out_of_memory, 0, {}};
  }
}

ResponseError parse_bodystructure(std::string_view raw, FetchBodyStructure& out, std::size_t max_depth) {
  out.root = FetchBodyPart{};
  out.arena.clear();
  try {
    BodyParser p(raw, out.arena, max_depth);
    if (!p.body(out.root) || !p.finish()) return p.error();
    return {};
  } catch (const std::bad_alloc&) {
    return {ResponseErrc::out_of_memory, 0, {}};
  }
}

const FetchBodyPart* FetchBodyStructure::find(std::string_view path) const noexcept {
  const FetchBodyPart* p = &root;
  while (!path.empty()) {
    std::size_t n = 0;
    std::size_t i = 0;
    for (; i < path.size() && path[i] >= '0' && path[i] <= '9'; ++i) {
      n = n * 10 + static_cast<std::size_t>(path[i] - '0');
      if (n > 1000000) return nullptr;
    }
    if (i == 0 || n == 0) return nullptr;
    path.remove_prefix(i);
    if (!path.empty()) {
      if (path.front() != '.') return nullptr;
      path.remove_prefix(1);
    }
    // A message/rfc822 part's children are the parts of its encapsulated body; a non-multipart
    // part's only part number is 1 (RFC 3501 6.4.5).
    if (!p->multipart && p->envelope && !p->parts.empty()) p = &p->parts.front();
    if (p->multipart) {
      if (n > p->parts.size()) return nullptr;
      p = &p->parts[n - 1];
    } else if (n != 1) {
      return nullptr;
    }
  }
  return p;
}

}  // namespace pimap::imap
