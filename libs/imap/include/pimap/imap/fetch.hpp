#pragma once

// FETCH attributes (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ).

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace pimap::imap {

enum class SectionText : std::uint8_t {
  none,               // BODY[] or BODY[1.2]
  header,             // HEADER
  header_fields,      // HEADER.FIELDS (names)
  header_fields_not,  // HEADER.FIELDS.NOT (names)
  text,               // TEXT
  mime,               // MIME (only after a part number)
};

struct Section {
  std::vector<std::uint32_t> part;        // 1.2.3 -> {1,2,3}; empty = the whole message
  SectionText text = SectionText::none;
  std::vector<std::string_view> fields;   // header field names for HEADER.FIELDS[.NOT]
  bool operator==(const Section&) const = default;
};

// "<offset.length>" after a section.
struct Partial {
  std::uint32_t offset = 0;
  std::uint32_t length = 1;
  bool operator==(const Partial&) const = default;
};

enum class FetchAttKind : std::uint8_t {
  envelope,
  flags,
  internaldate,
  rfc822,
  rfc822_header,
  rfc822_size,
  rfc822_text,
  body,           // BODY without a section: non-extensible BODYSTRUCTURE
  bodystructure,
  uid,
  body_section,   // BODY[...] / BODY.PEEK[...]
  binary,         // BINARY[...] / BINARY.PEEK[...]
  binary_size,    // BINARY.SIZE[...]
  modseq,
  other,          // an extension attribute (X-GM-MSGID, EMAILID, SAVEDATE, ...): `name` holds it
};

struct FetchAtt {
  FetchAttKind kind = FetchAttKind::flags;
  bool peek = false;                // BODY.PEEK / BINARY.PEEK
  Section section;                  // body_section; binary/binary_size use section.part only
  std::optional<Partial> partial;   // body_section / binary
  std::string_view name;            // `other` only
  bool operator==(const FetchAtt&) const = default;
};

enum class FetchMacro : std::uint8_t { none, all, fast, full };

// The attributes a macro stands for (RFC 9051 §6.4.5).
std::vector<FetchAtt> expand(FetchMacro macro);

}  // namespace pimap::imap
