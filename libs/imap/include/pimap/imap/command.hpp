#pragma once

// A parsed client command (device -> edge): tag, kind, typed arguments, and the exact bytes it came in.
//
// The typed bodies cover what the edge has to understand (RFC 9051/3501 plus the extensions of
// profile.md §2 and the P-IMAP X-commands of profile §5–13). Every other well-formed command is a
// CommandKind::other with generic Args, so a proxy can forward it untouched (`raw` / `raw_after_tag()`).
//
// All string_views point into the command's storage, which `storage` keeps alive: copies share it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "pimap/imap/fetch.hpp"
#include "pimap/imap/search.hpp"
#include "pimap/imap/values.hpp"

namespace pimap::imap {

enum class CommandKind : std::uint8_t {
  // any state
  capability, noop, logout,
  id,  // RFC 2971; body is Generic
  // not authenticated
  starttls, authenticate, login,
  // authenticated
  select, examine, create, delete_, rename, subscribe, unsubscribe, list, lsub, status, append,
  namespace_, enable, idle, compress,
  notify,  // RFC 5465; body is Generic
  // selected (fetch/store/copy/move/search/expunge/xconvert may carry the UID prefix: Command::uid)
  check, close, unselect, expunge, search, fetch, store, copy, move,
  // P-IMAP (profile §5–13)
  xsetpimappref, xgetpimappref, xprovision, xfilter, xdeliver, xzip, xconvert, xmacro,
  // anything else that is well-formed
  other,
};

// The canonical (upper-case) command name, e.g. "FETCH", "XGETPIMAPPREF". "" for `other`.
std::string_view command_name(CommandKind kind);

// CAPABILITY NOOP LOGOUT STARTTLS CHECK CLOSE UNSELECT EXPUNGE NAMESPACE IDLE
struct NoArgs {
  bool operator==(const NoArgs&) const = default;
};

// AUTHENTICATE mechanism [initial-response] (RFC 4959 SASL-IR).
struct Authenticate {
  std::string_view mechanism;
  // Base64 as sent; "=" means an empty initial response (RFC 4959 §3). Absent without SASL-IR.
  std::optional<std::string_view> initial_response;
  bool operator==(const Authenticate&) const = default;
};

struct Login {
  std::string_view user;
  std::string_view password;
  bool operator==(const Login&) const = default;
};

// RFC 7162 §3.2.5: QRESYNC (uidvalidity modseq [known-uids [(seq-match)]])
struct Qresync {
  std::uint32_t uidvalidity = 0;
  std::uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
  std::optional<SequenceSet> seq_match_seqs;  // known-sequence-set
  std::optional<SequenceSet> seq_match_uids;  // known-uid-set
  bool operator==(const Qresync&) const = default;
};

// SELECT / EXAMINE mailbox [(CONDSTORE) | (QRESYNC (...))]
struct Select {
  std::string_view mailbox;
  bool condstore = false;
  std::optional<Qresync> qresync;
  bool operator==(const Select&) const = default;
};

// CREATE / DELETE / SUBSCRIBE / UNSUBSCRIBE mailbox
struct MailboxArg {
  std::string_view mailbox;
  bool operator==(const MailboxArg&) const = default;
};

struct Rename {
  std::string_view from;
  std::string_view to;
  bool operator==(const Rename&) const = default;
};

// LIST / LSUB, including LIST-EXTENDED (RFC 5258) selection and return options.
struct List {
  std::vector<std::string_view> selection;  // (SUBSCRIBED REMOTE ...)
  std::string_view reference;
  std::vector<std::string_view> patterns;   // one, or several in the extended form
  std::vector<Arg> return_options;          // RETURN (CHILDREN STATUS (MESSAGES)) as generic args
  bool operator==(const List&) const = default;
};

struct Status {
  std::string_view mailbox;
  std::vector<std::string_view> items;  // MESSAGES UIDNEXT UNSEEN HIGHESTMODSEQ ...
  bool operator==(const Status&) const = default;
};

struct AppendMessage {
  std::vector<std::string_view> flags;
  std::optional<DateTime> internal_date;
  std::string_view data;  // the message
  bool binary = false;    // sent as ~{n} (RFC 3516)
  bool operator==(const AppendMessage&) const = default;
};

// APPEND mailbox message [message ...] (RFC 3502 MULTIAPPEND when more than one).
struct Append {
  std::string_view mailbox;
  std::vector<AppendMessage> messages;
  bool operator==(const Append&) const = default;
};

// [UID] SEARCH [RETURN (opts)] [CHARSET c] keys...
struct Search {
  std::optional<std::vector<std::string_view>> return_options;  // ESEARCH (RFC 4731); may be empty "()"
  std::optional<std::string_view> charset;
  std::vector<SearchKey> keys;  // all must match
  bool operator==(const Search&) const = default;
};

// [UID] FETCH set (atts | macro) [(CHANGEDSINCE n [VANISHED])]
struct Fetch {
  SequenceSet set;
  FetchMacro macro = FetchMacro::none;  // when not none, `atts` is empty
  std::vector<FetchAtt> atts;
  std::optional<std::uint64_t> changed_since;  // RFC 7162
  bool vanished = false;                       // RFC 7162 §3.2.6 (UID FETCH only)
  bool operator==(const Fetch&) const = default;
};

enum class StoreMode : std::uint8_t { replace, add, remove };  // FLAGS, +FLAGS, -FLAGS

// [UID] STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags
struct Store {
  SequenceSet set;
  std::optional<std::uint64_t> unchanged_since;
  StoreMode mode = StoreMode::replace;
  bool silent = false;
  std::vector<std::string_view> flags;
  bool operator==(const Store&) const = default;
};

// [UID] COPY / [UID] MOVE set mailbox
struct CopyMove {
  SequenceSet set;
  std::string_view mailbox;
  bool operator==(const CopyMove&) const = default;
};

// UID EXPUNGE set (RFC 4315)
struct UidExpunge {
  SequenceSet set;
  bool operator==(const UidExpunge&) const = default;
};

struct Enable {
  std::vector<std::string_view> capabilities;
  bool operator==(const Enable&) const = default;
};

struct Compress {
  std::string_view mechanism;  // DEFLATE
  bool operator==(const Compress&) const = default;
};

// XSETPIMAPPREF name value [name value ...] (profile §5).
struct PimapPref {
  std::string_view name;
  Arg value;  // an atom (WAP_PUSH, +4912345678) or a list (PIMAP_INBAND_NEW_FORMAT)
  // When `value` is a list of FETCH attributes, those attributes (empty otherwise).
  std::vector<FetchAtt> fetch_atts;
  bool operator==(const PimapPref&) const = default;
};
struct SetPimapPref {
  std::vector<PimapPref> prefs;
  bool operator==(const SetPimapPref&) const = default;
};

// XGETPIMAPPREF [name | (name ...)]; the XGETPIMAPPREFS alias sets `plural` (the reply must echo it).
struct GetPimapPref {
  std::vector<std::string_view> names;  // empty: all preferences
  bool plural = false;
  bool parenthesised = false;           // answered in the same form
  bool operator==(const GetPimapPref&) const = default;
};

// XPROVISION [args] (profile §6): arguments are optional and not interpreted.
struct Provision {
  std::vector<Arg> args;
  bool operator==(const Provision&) const = default;
};

enum class FilterType : std::uint8_t { view, notification, both };  // V, N, B

// XFILTER (ALL | mailbox) (V|N|B) criteria | XFILTER (ALL | mailbox) (V|N) GET  (profile §7)
struct Filter {
  bool all_mailboxes = false;   // the atom ALL; a quoted "ALL" is a mailbox of that name
  std::string_view mailbox;     // when !all_mailboxes
  FilterType type = FilterType::view;
  bool get = false;
  std::vector<SearchKey> criteria;  // may include days_before_today and none
  bool operator==(const Filter&) const = default;
};

enum class DeliverMode : std::uint8_t { new_message, reply, forward };  // N, R, F

// XDELIVER (N | (R|F) mailbox uid (Y|N)) [SAVETO=mailbox] literal  (profile §8)
struct Deliver {
  DeliverMode mode = DeliverMode::new_message;
  std::string_view mailbox;         // R/F: the original's mailbox
  std::uint32_t uid = 0;            // R/F: the original's UID
  bool include_attachments = false; // R/F: Y
  std::optional<std::string_view> save_to;
  std::string_view message;
  bool operator==(const Deliver&) const = default;
};

struct Command;

// XZIP <tagged command> (profile §9): the inner command is complete, with its own tag.
struct Xzip {
  std::shared_ptr<const Command> inner;
  friend bool operator==(const Xzip& a, const Xzip& b);
};

// [UID] XCONVERT n part AS type/subtype [(PARAM value ...)]  (profile §12)
struct Convert {
  std::uint32_t number = 0;           // message number, or UID with the UID prefix
  std::vector<std::uint32_t> part;    // 1.2 -> {1,2}
  std::string_view type;              // "image"
  std::string_view subtype;           // "jpeg"
  std::vector<std::pair<std::string_view, std::string_view>> params;  // (WIDTH 320 HEIGHT 240)
  bool operator==(const Convert&) const = default;
};

enum class MacroOp : std::uint8_t { define, run, list, delete_ };

// XMACRO DEFINE name (command) ... | RUN name [args] | LIST | DELETE name  (profile §13)
struct Macro {
  MacroOp op = MacroOp::list;
  std::string_view name;
  // DEFINE: one list Arg per command (tokens incl. $1..$9; `raw` holds "(...)");
  // RUN: the arguments, e.g. STATECOMPARE's (mbox uidvalidity highestmodseq) lists.
  std::vector<Arg> args;
  bool operator==(const Macro&) const = default;
};

// Any other well-formed command.
struct Generic {
  std::vector<Arg> args;
  bool operator==(const Generic&) const = default;
};

using CommandBody = std::variant<NoArgs, Authenticate, Login, Select, MailboxArg, Rename, List, Status,
                                 Append, Search, Fetch, Store, CopyMove, UidExpunge, Enable, Compress,
                                 SetPimapPref, GetPimapPref, Provision, Filter, Deliver, Xzip, Convert,
                                 Macro, Generic>;

struct Command {
  std::string_view tag;
  CommandKind kind = CommandKind::other;
  bool uid = false;           // "UID FETCH ..." etc.
  std::string_view name;      // the name as sent (after UID), e.g. "fetch"; for `other` the only name
  CommandBody body;
  // The exact bytes of the command as received, literals and the final CRLF included. For an XZIP
  // inner command: its slice of the outer command.
  std::string_view raw;
  std::shared_ptr<const void> storage;  // keeps every view above valid

  template <class T>
  const T* as() const { return std::get_if<T>(&body); }
  // `raw` without "tag SP": for a proxy that forwards under its own tag.
  std::string_view raw_after_tag() const;

  // Semantic equality (tag, kind, UID prefix, arguments). `raw`, `storage` and the spelling of the
  // command name are ignored, so parse -> serialize -> parse compares equal.
  friend bool operator==(const Command& a, const Command& b);
};

}  // namespace pimap::imap
