#pragma once
// EMN in WBXML 1.3 (WAP-192-WBXML), public identifier 0x0D, the form a WAP Push carries as
// application/vnd.wap.emn+wbxml. Kannel's PPG does not compile EMN, so pimap encodes it itself.
//
// Token tables (OMA EMN 1.0 §8, code page 0): tag emn = 0x05; attribute starts timestamp = 0x05,
// mailbox = 0x06, and mailbox with a value prefix: "mailat:" 0x07, "pop://" 0x08, "imap://" 0x09,
// "http://" 0x0A, "http://www." 0x0B, "https://" 0x0C, "https://www." 0x0D; attribute values
// ".com" 0x85, ".edu" 0x86, ".net" 0x87, ".org" 0x88. The timestamp is opaque data holding the
// date-time in BCD, YYYY MM DD hh mm ss (7 octets; trailing zero octets may be left out).
//
// What encode() writes for {"mailat:alice@example.test", 2026-11-27T10:00:00Z}:
//   03 0D 6A 00 85 07 03 "alice@example.test" 00 05 C3 07 20 26 11 27 10 00 00 01
// version 1.3, public id 0x0D, UTF-8, empty string table, <emn> with attributes and no content,
// mailbox="mailat:" + inline string, timestamp = opaque BCD, end of attributes.

#include <pimap/emn/emn.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pimap::emn {

// Bytes of the WBXML document. Always all 7 timestamp octets (what Kannel was seen to deliver).
std::string encode_wbxml(const Notification& n);

// Accepts what encode_wbxml() writes and the other legal spellings of the same document: any prefix
// token, inline or string-table strings, value tokens, a textual or shortened opaque timestamp, and
// a public id given as a string ("-//WAPFORUM//DTD EMN 1.0//EN"). Empty with `error` set otherwise.
std::optional<Notification> decode_wbxml(std::string_view bytes, std::string* error = nullptr);

}  // namespace pimap::emn
