#pragma once

// The parsed form of one IMAP server response (RFC 3501/9051 and the extensions Dovecot 2.3 speaks).
//
// A Response is a set of views over the bytes it was parsed from (see ResponseReader / parse_response):
// it stays valid only as long as those bytes do. Use OwnedResponse (response_owned.hpp) to keep one.
// The struct is deliberately flat instead of a variant: a parser reuses one Response for a stream of
// responses and keeps every vector's capacity, so a FETCH stream parses without allocating.
//
// Decoding is lazy where it is expensive and rarely needed: ENVELOPE and BODYSTRUCTURE are kept as raw
// spans and decoded on demand (response_body.hpp); responses the parser does not know are kept as a
// generic value tree (response_tree.hpp).

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "pimap/imap/response_error.hpp"
#include "pimap/imap/response_tree.hpp"
#include "pimap/imap/response_types.hpp"

namespace pimap::imap {

enum class ResponseKind : std::uint8_t {
  tagged,        // `A1 OK ...`
  untagged,      // `* ...`
  continuation,  // `+ ...`
};

// resp-cond-state / resp-cond-auth / resp-cond-bye.
enum class ResponseStatus : std::uint8_t { none, ok, no, bad, preauth, bye };

enum class UntaggedKind : std::uint8_t {
  none,        // tagged / continuation responses
  condition,   // * OK / NO / BAD / PREAUTH / BYE  (Response::status, code, text)
  capability,  // * CAPABILITY ...      (Response::atoms)
  enabled,     // * ENABLED ...         (Response::atoms)         RFC 5161
  flags,       // * FLAGS (...)         (Response::atoms)
  list,        // * LIST ...            (Response::list)          RFC 3501, 5258
  lsub,        // * LSUB ...            (Response::list)
  status,      // * STATUS mbox (...)   (Response::status_data)   also NOTIFY's unsolicited STATUS
  exists,      // * n EXISTS            (Response::number)
  recent,      // * n RECENT            (Response::number)
  expunge,     // * n EXPUNGE           (Response::number)
  fetch,       // * n FETCH (...)       (Response::number, fetch)
  search,      // * SEARCH ...          (Response::search)        RFC 3501, 7162 (MODSEQ)
  sort,        // * SORT ...            (Response::search)        RFC 5256
  esearch,     // * ESEARCH ...         (Response::esearch)       RFC 4731
  vanished,    // * VANISHED [(EARLIER)] uids (Response::vanished) RFC 7162
  id,          // * ID (...) / NIL      (Response::id)            RFC 2971
  metadata,    // * METADATA ...        (Response::metadata)      RFC 5464
  namespace_,  // * NAMESPACE ...       (Response::namespaces)    RFC 2342
  other,       // anything else: Response::name, number (if any), tree (generic value tree)
};

// The bracketed code of a status response (`A1 OK [APPENDUID 38505 3955] APPEND completed`).
enum class ResponseCodeKind : std::uint8_t {
  none,                // no code
  alert,
  badcharset,          // list: charsets (may be empty)
  capability,          // list: capabilities
  parse,
  permanentflags,      // list: flags
  read_only,
  read_write,
  trycreate,
  uidnext,             // number
  uidvalidity,         // number
  unseen,              // number
  appenduid,           // number = uidvalidity, set1 = appended uids            RFC 4315
  copyuid,             // number = uidvalidity, set1 = source, set2 = dest uids RFC 4315
  uidnotsticky,
  highestmodseq,       // number                                              RFC 7162
  nomodseq,
  modified,            // set1 = message set that failed the UNCHANGEDSINCE test
  closed,                                                                     // RFC 7162
  compressionactive,                                                          // RFC 4978
  notificationoverflow,                                                       // RFC 5465
  badevent,            // list: the supported events
  metadata,            // text in args, e.g. LONGENTRIES 100 / MAXSIZE 1024 / TOOMANY / NOPRIVATE
  other,               // RFC 5530 codes (NONEXISTENT, OVERQUOTA, ...) and unknown ones: name + raw args
};

struct ResponseCode {
  ResponseCodeKind kind = ResponseCodeKind::none;
  std::string_view name;   // as sent, e.g. "APPENDUID", "X-FOO"
  std::string_view args;   // everything after the name up to `]`, raw; empty if none
  std::uint64_t number = 0;
  NumberSet set1;
  NumberSet set2;
  AtomList list;

  bool is(std::string_view n) const noexcept { return ascii_iequals(name, n); }
};

// LIST / LSUB (RFC 3501 7.2.2, LIST-EXTENDED RFC 5258).
struct ListData {
  AtomList attributes;        // \HasChildren \Subscribed \NonExistent ...
  std::optional<char> delimiter;  // NIL -> no hierarchy
  std::string_view mailbox;   // decoded astring, modified UTF-7 as sent
  // Extended data items, e.g. ("CHILDINFO" ("SUBSCRIBED")) or ("OLDNAME" ("old")): tag + raw value.
  std::vector<std::pair<std::string_view, std::string_view>> extended;
  bool childinfo_subscribed = false;  // CHILDINFO contains "SUBSCRIBED"
  std::optional<std::string_view> oldname;  // OLDNAME (RFC 5465 / 5258 rename), decoded

  void clear() noexcept;
};

// STATUS (RFC 3501 7.2.4; RFC 7162 HIGHESTMODSEQ; RFC 8438 SIZE; RFC 9051 DELETED).
struct StatusData {
  struct Item {
    std::string_view name;
    std::uint64_t value = 0;
    bool nil = false;  // e.g. APPENDLIMIT NIL
  };
  std::string_view mailbox;
  std::vector<Item> items;
  std::optional<std::uint32_t> messages, recent, uidnext, uidvalidity, unseen, deleted;
  std::optional<std::uint64_t> highestmodseq, size;

  void clear() noexcept;
};

// SEARCH / SORT. CONDSTORE appends `(MODSEQ n)`.
struct SearchData {
  std::vector<std::uint32_t> numbers;
  std::optional<std::uint64_t> modseq;

  void clear() noexcept {
    numbers.clear();
    modseq.reset();
  }
};

// ESEARCH (RFC 4731, 7162 MODSEQ, 5267 PARTIAL kept in `other`).
struct ESearchData {
  std::optional<std::string_view> tag;  // the search correlator (TAG "A5"), decoded
  bool uid = false;
  std::optional<std::uint32_t> min, max, count;
  std::optional<NumberSet> all;
  std::optional<std::uint64_t> modseq;
  std::vector<std::pair<std::string_view, std::string_view>> other;  // name + raw value

  void clear() noexcept;
};

// VANISHED (RFC 7162 3.2.10).
struct VanishedData {
  bool earlier = false;
  NumberSet uids;
};

// One attribute of a FETCH response.
enum class FetchAttr : std::uint8_t {
  uid,             // number
  flags,           // flags
  internaldate,    // string (quoted date-time)
  rfc822_size,     // number
  envelope,        // raw: `( ... )`, decode with parse_envelope()
  bodystructure,   // raw: `( ... )`, decode with parse_bodystructure()
  body,            // BODY without section: non-extensible body structure, raw
  body_section,    // BODY[section]<origin>: section, origin, string
  binary_section,  // BINARY[section]<origin>: section, origin, string (literal8 allowed)
  binary_size,     // BINARY.SIZE[section]: section, number
  modseq,          // number                                         RFC 7162
  rfc822,          // string
  rfc822_header,   // string
  rfc822_text,     // string
  other,           // unknown attribute (SAVEDATE, EMAILID, PREVIEW, X-GM-...): name, section, raw
};

struct FetchItem {
  FetchAttr attr = FetchAttr::other;
  std::string_view name;      // as sent, without section: "BODY", "X-GM-MSGID"
  std::string_view section;   // inside the brackets, e.g. "1.2.HEADER.FIELDS (From)"; "" for BODY[]
  bool has_section = false;
  bool has_origin = false;
  std::uint32_t origin = 0;   // BODY[]<origin>
  std::string_view raw;       // the value exactly as on the wire (lists with parens, literal with header)
  NStringView string;         // decoded value of string-valued attributes
  std::uint64_t number = 0;   // value of number-valued attributes
  AtomList flags;             // FLAGS
};

struct FetchData {
  std::vector<FetchItem> items;

  const FetchItem* find(FetchAttr a) const noexcept;
  // BODY[section] (exact section text, case-insensitive), first match.
  const FetchItem* find_section(std::string_view section, FetchAttr a = FetchAttr::body_section) const noexcept;
  std::optional<std::uint32_t> uid() const noexcept;
  std::optional<std::uint64_t> modseq() const noexcept;
  void clear() noexcept { items.clear(); }
};

// ID (RFC 2971): NIL or field/value pairs.
struct IdData {
  bool nil = true;
  std::vector<std::pair<std::string_view, NStringView>> fields;

  void clear() noexcept {
    nil = true;
    fields.clear();
  }
};

// METADATA (RFC 5464 4.4): `* METADATA mbox (entry value ...)` or the unsolicited
// `* METADATA mbox entry entry` (has_values false, every value nil).
struct MetadataData {
  std::string_view mailbox;
  bool has_values = false;
  std::vector<std::pair<std::string_view, NStringView>> entries;

  void clear() noexcept {
    mailbox = {};
    has_values = false;
    entries.clear();
  }
};

// NAMESPACE (RFC 2342): personal, other users', shared; each NIL (empty) or a list of descriptors.
struct NamespaceData {
  struct Descr {
    std::string_view prefix;
    std::optional<char> delimiter;
    std::string_view extensions;  // raw namespace-response-extensions, if any
  };
  std::vector<Descr> personal, other_users, shared;

  void clear() noexcept {
    personal.clear();
    other_users.clear();
    shared.clear();
  }
};

struct Response {
  ResponseKind kind = ResponseKind::untagged;
  std::string_view raw;   // the whole response as on the wire, CRLF and literals included
  std::string_view tag;   // tagged responses only

  UntaggedKind untagged = UntaggedKind::none;
  std::string_view name;  // the response's keyword as sent ("OK", "FETCH", "XFOO")

  // Status responses, tagged and untagged (OK/NO/BAD/PREAUTH/BYE).
  ResponseStatus status = ResponseStatus::none;
  ResponseCode code;
  // Human-readable text of status responses; the text/base64 of a continuation request.
  std::string_view text;

  std::uint32_t number = 0;  // EXISTS / RECENT / EXPUNGE / FETCH message number (or 0)
  bool has_number = false;

  AtomList atoms;             // CAPABILITY, ENABLED, FLAGS
  ListData list;              // LIST, LSUB
  StatusData status_data;     // STATUS
  SearchData search;          // SEARCH, SORT
  ESearchData esearch;        // ESEARCH
  VanishedData vanished;      // VANISHED
  FetchData fetch;            // FETCH
  IdData id;                  // ID
  MetadataData metadata;      // METADATA
  NamespaceData namespaces;   // NAMESPACE
  ResponseTree tree;          // `other`: everything after the name (and number), as a value tree

  StringArena arena;          // unescaped quoted strings; see StringArena

  bool is_tagged() const noexcept { return kind == ResponseKind::tagged; }
  bool is_untagged() const noexcept { return kind == ResponseKind::untagged; }
  bool is_continuation() const noexcept { return kind == ResponseKind::continuation; }
  bool ok() const noexcept { return status == ResponseStatus::ok; }

  // Resets every field, keeping the capacity of the vectors.
  void clear() noexcept;
};

std::string_view to_string(ResponseStatus s) noexcept;
std::string_view to_string(UntaggedKind k) noexcept;

}  // namespace pimap::imap
