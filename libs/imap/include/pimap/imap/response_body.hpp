#pragma once

// On-demand decoding of the two structured FETCH attributes the response parser keeps raw:
// ENVELOPE and BODYSTRUCTURE / BODY (RFC 3501 7.4.2, RFC 9051 7.5.2).
//
//   if (const FetchItem* bs = resp.fetch.find(FetchAttr::bodystructure)) {
//     FetchBodyStructure body;
//     if (auto err = parse_bodystructure(bs->raw, body)) { ... }
//     for (const FetchBodyPart& p : body.root.parts) ...
//   }
//
// Strings are views into `raw` (keep those bytes alive) or into the result's own arena.

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "pimap/imap/response_error.hpp"
#include "pimap/imap/response_types.hpp"

namespace pimap::imap {

// One address of an envelope. A group is sent as a start marker (host nil, mailbox = group name)
// and an end marker (host and mailbox nil), kept here exactly as sent.
struct FetchAddress {
  NStringView name, adl, mailbox, host;
};

struct FetchEnvelopeFields {
  NStringView date, subject;
  std::vector<FetchAddress> from, sender, reply_to, to, cc, bcc;
  NStringView in_reply_to, message_id;
};

struct FetchEnvelope : FetchEnvelopeFields {
  StringArena arena;
};

using FetchParams = std::vector<std::pair<std::string_view, std::string_view>>;

struct FetchBodyPart {
  bool multipart = false;
  std::string_view type;     // "TEXT", "MULTIPART" (not sent for multiparts; set here for convenience)
  std::string_view subtype;  // "PLAIN", "MIXED"
  FetchParams params;        // body-fld-param (for multiparts: extension data)

  // Single parts only.
  NStringView id, description;
  NStringView encoding;
  std::uint64_t size = 0;
  std::uint64_t lines = 0;   // text/* and message/rfc822
  std::unique_ptr<FetchEnvelopeFields> envelope;  // message/rfc822, message/global

  // Children: the parts of a multipart, or the one encapsulated body of message/rfc822.
  std::vector<FetchBodyPart> parts;

  // Extension data (BODYSTRUCTURE; absent in BODY).
  bool has_extension = false;
  NStringView md5;                 // single parts
  NStringView disposition;         // e.g. "attachment"
  FetchParams disposition_params;  // e.g. filename
  std::vector<std::string_view> language;
  NStringView location;
  std::string_view more_extensions;  // any further body-extension values, raw

  bool is(std::string_view t, std::string_view st) const noexcept {
    return ascii_iequals(type, t) && ascii_iequals(subtype, st);
  }
};

struct FetchBodyStructure {
  FetchBodyPart root;
  StringArena arena;

  // The part at an IMAP section path ("1.2"; "" is the root); nullptr if there is none.
  const FetchBodyPart* find(std::string_view path) const noexcept;
};

ResponseError parse_envelope(std::string_view raw, FetchEnvelope& out);
ResponseError parse_bodystructure(std::string_view raw, FetchBodyStructure& out,
                                  std::size_t max_depth = ResponseLimits{}.max_depth);

}  // namespace pimap::imap
