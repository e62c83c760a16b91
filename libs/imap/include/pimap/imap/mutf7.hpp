#pragma once
// Modified UTF-7 (RFC 3501 §5.1.3): how mailbox names travel in IMAP unless UTF8=ACCEPT is enabled.
//
// The store reports a mailbox in two spellings: Dovecot's push_notification hooks name it in UTF-8
// (its internal vname), its IMAP responses in modified UTF-7. Events carry the IMAP spelling, the one
// a device SELECTs and the reconciler sends back to the store, so both sources give one event id and
// one name for the same mailbox.

#include <optional>
#include <string>
#include <string_view>

namespace pimap::imap {

// nullopt when `utf8` is not well-formed UTF-8 (overlong forms, surrogates, > U+10FFFF, NUL).
std::optional<std::string> utf8_to_mutf7(std::string_view utf8);

// nullopt when `mutf7` is not modified UTF-7: bytes outside printable ASCII, an unterminated or
// malformed `&...-` run (bad base64, leftover bits, odd byte count, unpaired surrogate, NUL).
std::optional<std::string> mutf7_to_utf8(std::string_view mutf7);

}  // namespace pimap::imap
