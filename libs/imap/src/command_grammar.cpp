// The command grammar: tag, name, and the typed body of every command this library models.
// RFC 9051/3501 §6 and §9, plus the extensions listed in command.hpp and the P-IMAP profile §5–13.

#include "command_grammar.hpp"

#include <new>

namespace pimap::imap::detail {
namespace {

struct CommandDef {
  std::string_view name;
  CommandKind kind;
  bool uid_ok;  // may follow "UID"
};

constexpr CommandDef kCommands[] = {
    {"FETCH", CommandKind::fetch, true},
    {"STORE", CommandKind::store, true},
    {"SEARCH", CommandKind::search, true},
    {"IDLE", CommandKind::idle, false},
    {"NOOP", CommandKind::noop, false},
    {"SELECT", CommandKind::select, false},
    {"EXAMINE", CommandKind::examine, false},
    {"APPEND", CommandKind::append, false},
    {"COPY", CommandKind::copy, true},
    {"MOVE", CommandKind::move, true},
    {"EXPUNGE", CommandKind::expunge, true},
    {"CAPABILITY", CommandKind::capability, false},
    {"LOGOUT", CommandKind::logout, false},
    {"ID", CommandKind::id, false},
    {"STARTTLS", CommandKind::starttls, false},
    {"AUTHENTICATE", CommandKind::authenticate, false},
    {"LOGIN", CommandKind::login, false},
    {"CREATE", CommandKind::create, false},
    {"DELETE", CommandKind::delete_, false},
    {"RENAME", CommandKind::rename, false},
    {"SUBSCRIBE", CommandKind::subscribe, false},
    {"UNSUBSCRIBE", CommandKind::unsubscribe, false},
    {"LIST", CommandKind::list, false},
    {"LSUB", CommandKind::lsub, false},
    {"STATUS", CommandKind::status, false},
    {"NAMESPACE", CommandKind::namespace_, false},
    {"ENABLE", CommandKind::enable, false},
    {"COMPRESS", CommandKind::compress, false},
    {"NOTIFY", CommandKind::notify, false},
    {"CHECK", CommandKind::check, false},
    {"CLOSE", CommandKind::close, false},
    {"UNSELECT", CommandKind::unselect, false},
    {"XSETPIMAPPREF", CommandKind::xsetpimappref, false},
    {"XGETPIMAPPREF", CommandKind::xgetpimappref, false},
    {"XGETPIMAPPREFS", CommandKind::xgetpimappref, false},
    {"XPROVISION", CommandKind::xprovision, false},
    {"XFILTER", CommandKind::xfilter, false},
    {"XDELIVER", CommandKind::xdeliver, false},
    {"XZIP", CommandKind::xzip, false},
    {"XCONVERT", CommandKind::xconvert, true},
    {"XMACRO", CommandKind::xmacro, false},
};

const CommandDef* find_command(std::string_view name) {
  for (const CommandDef& d : kCommands) {
    if (d.name.size() == name.size() && iequals(d.name, name)) return &d;
  }
  return nullptr;
}

void no_args(Cursor& c, Command& cmd) {
  if (!c.at_eol()) c.fail(std::string(command_name(cmd.kind)) + " takes no arguments");
  cmd.body = NoArgs{};
}

void parse_authenticate(Cursor& c, Command& cmd) {
  Authenticate a;
  c.sp();
  a.mechanism = c.atom();
  if (c.more()) {
    if (c.peek() == '=' && (c.peek(1) == '\r' || c.peek(1) == '\n')) {
      a.initial_response = c.buf().substr(c.pos(), 1);
      c.set_pos(c.pos() + 1);
    } else {
      const std::string_view b64 = c.chars_of(chars::kBase64, "a base64 initial response");
      const std::size_t pad = b64.find('=');
      if (b64.size() % 4 != 0 || (pad != std::string_view::npos && pad + 2 < b64.size()) ||
          (pad != std::string_view::npos && b64.find_first_not_of('=', pad) != std::string_view::npos)) {
        c.fail("invalid base64 in the initial response");
      }
      a.initial_response = b64;
    }
  }
  cmd.body = a;
}

void parse_login(Cursor& c, Command& cmd) {
  Login l;
  c.sp();
  l.user = c.astring();
  c.sp();
  l.password = c.astring();
  cmd.body = l;
}

void parse_select(Cursor& c, Command& cmd) {
  Select s;
  c.sp();
  s.mailbox = c.astring();
  if (c.more()) {
    c.expect('(');
    Cursor::Depth depth(c);
    for (;;) {
      const std::string_view param = c.atom();
      if (iequals(param, "CONDSTORE")) {
        if (s.condstore) c.fail("CONDSTORE given twice");
        s.condstore = true;
      } else if (iequals(param, "QRESYNC")) {
        if (s.qresync) c.fail("QRESYNC given twice");
        Qresync q;
        c.sp();
        c.expect('(');
        Cursor::Depth inner(c);
        q.uidvalidity = c.nz_number();
        c.sp();
        q.modseq = c.mod_sequence(false);
        auto seq_match = [&c, &q] {
          c.expect('(');
          q.seq_match_seqs = c.sequence_set();
          c.sp();
          q.seq_match_uids = c.sequence_set();
          c.expect(')');
        };
        if (c.try_char(' ')) {
          if (c.peek() == '(') {
            seq_match();
          } else {
            q.known_uids = c.sequence_set();
            if (q.known_uids->saved || q.known_uids->uses_star()) c.fail("known-uids may not use * or $");
            if (c.try_char(' ')) seq_match();
          }
        }
        c.expect(')');
        s.qresync = std::move(q);
      } else {
        c.fail("unsupported SELECT parameter '" + std::string(param) + "'");
      }
      if (c.try_char(')')) break;
      c.sp();
    }
  }
  cmd.body = std::move(s);
}

void parse_mailbox_arg(Cursor& c, Command& cmd) {
  c.sp();
  cmd.body = MailboxArg{c.astring()};
}

void parse_rename(Cursor& c, Command& cmd) {
  Rename r;
  c.sp();
  r.from = c.astring();
  c.sp();
  r.to = c.astring();
  cmd.body = r;
}

void parse_list(Cursor& c, Command& cmd) {
  List l;
  const bool extended = cmd.kind == CommandKind::list;
  c.sp();
  if (extended && c.peek() == '(') {
    c.expect('(');
    if (!c.try_char(')')) {
      for (;;) {
        l.selection.push_back(c.atom());
        if (c.try_char(')')) break;
        c.sp();
      }
    }
    c.sp();
  }
  l.reference = c.astring();
  c.sp();
  if (extended && c.peek() == '(') {
    c.expect('(');
    for (;;) {
      l.patterns.push_back(c.list_mailbox());
      if (c.try_char(')')) break;
      c.sp();
    }
  } else {
    l.patterns.push_back(c.list_mailbox());
  }
  if (extended && c.more()) {
    if (!c.try_word("RETURN")) c.fail_expected("RETURN");
    c.sp();
    if (c.peek() != '(') c.fail_expected("'(' after RETURN");
    Arg opts = c.arg();
    l.return_options = std::move(opts.items);
  }
  cmd.body = std::move(l);
}

void parse_status(Cursor& c, Command& cmd) {
  Status s;
  c.sp();
  s.mailbox = c.astring();
  c.sp();
  c.expect('(');
  for (;;) {
    s.items.push_back(c.atom());
    if (c.try_char(')')) break;
    c.sp();
  }
  cmd.body = std::move(s);
}

void parse_append(Cursor& c, Command& cmd) {
  Append a;
  c.sp();
  a.mailbox = c.astring();
  while (c.more()) {
    AppendMessage m;
    if (c.peek() == '(') {
      m.flags = c.flag_list();
      c.sp();
    }
    if (c.peek() == '"') {
      m.internal_date = c.date_time();
      c.sp();
    }
    if (c.peek() != '{' && c.peek() != '~') c.fail_expected("the message literal");
    m.data = c.literal(true, &m.binary);
    a.messages.push_back(std::move(m));
  }
  if (a.messages.empty()) c.fail("APPEND without a message");
  cmd.body = std::move(a);
}

void parse_search(Cursor& c, Command& cmd) {
  Search s;
  c.sp();
  if (c.try_word("RETURN")) {
    c.sp();
    c.expect('(');
    s.return_options.emplace();
    if (!c.try_char(')')) {
      for (;;) {
        s.return_options->push_back(c.atom());
        if (c.try_char(')')) break;
        c.sp();
      }
    }
    c.sp();
  }
  if (c.try_word("CHARSET")) {
    c.sp();
    s.charset = c.astring();
    c.sp();
  }
  do {
    s.keys.push_back(parse_search_key(c, false));
  } while (c.more());
  cmd.body = std::move(s);
}

void parse_fetch(Cursor& c, Command& cmd) {
  Fetch f;
  c.sp();
  f.set = c.sequence_set();
  c.sp();
  if (c.peek() == '(') {
    f.atts = parse_fetch_att_list(c);
  } else if (c.try_word("ALL")) {
    f.macro = FetchMacro::all;
  } else if (c.try_word("FAST")) {
    f.macro = FetchMacro::fast;
  } else if (c.try_word("FULL")) {
    f.macro = FetchMacro::full;
  } else {
    f.atts.push_back(parse_fetch_att(c));
  }
  if (c.more()) {
    c.expect('(');
    Cursor::Depth depth(c);
    for (;;) {
      if (c.try_word("CHANGEDSINCE")) {
        if (f.changed_since) c.fail("CHANGEDSINCE given twice");
        c.sp();
        f.changed_since = c.mod_sequence(false);
      } else if (c.try_word("VANISHED")) {
        if (f.vanished) c.fail("VANISHED given twice");
        f.vanished = true;
      } else {
        c.fail_expected("a FETCH modifier (CHANGEDSINCE, VANISHED)");
      }
      if (c.try_char(')')) break;
      c.sp();
    }
    if (f.vanished && !cmd.uid) c.fail("VANISHED is only valid with UID FETCH");
    if (f.vanished && !f.changed_since) c.fail("VANISHED needs CHANGEDSINCE");
  }
  cmd.body = std::move(f);
}

void parse_store(Cursor& c, Command& cmd) {
  Store s;
  c.sp();
  s.set = c.sequence_set();
  c.sp();
  if (c.peek() == '(') {
    c.expect('(');
    if (!c.try_word("UNCHANGEDSINCE")) c.fail_expected("a STORE modifier (UNCHANGEDSINCE)");
    c.sp();
    s.unchanged_since = c.mod_sequence(true);
    c.expect(')');
    c.sp();
  }
  std::string_view item = c.atom();
  if (!item.empty() && (item.front() == '+' || item.front() == '-')) {
    s.mode = item.front() == '+' ? StoreMode::add : StoreMode::remove;
    item.remove_prefix(1);
  }
  if (iequals(item, "FLAGS.SILENT")) {
    s.silent = true;
  } else if (!iequals(item, "FLAGS")) {
    c.fail("expected [+|-]FLAGS[.SILENT] in STORE");
  }
  c.sp();
  if (c.peek() == '(') {
    s.flags = c.flag_list();
  } else {
    do {
      s.flags.push_back(c.flag());
    } while (c.more());
  }
  cmd.body = std::move(s);
}

void parse_copy_move(Cursor& c, Command& cmd) {
  CopyMove m;
  c.sp();
  m.set = c.sequence_set();
  c.sp();
  m.mailbox = c.astring();
  cmd.body = std::move(m);
}

void parse_enable(Cursor& c, Command& cmd) {
  Enable e;
  c.sp();
  do {
    e.capabilities.push_back(c.atom());
  } while (c.more());
  cmd.body = std::move(e);
}

void parse_set_pref(Cursor& c, Command& cmd) {
  SetPimapPref s;
  c.sp();
  do {
    PimapPref p;
    p.name = c.atom();
    c.sp();
    if (c.peek() == '(' && iequals(p.name, "PIMAP_INBAND_NEW_FORMAT")) {
      const std::size_t start = c.pos();
      p.fetch_atts = parse_fetch_att_list(c);
      c.set_pos(start);
    }
    p.value = c.arg();
    s.prefs.push_back(std::move(p));
  } while (c.more());
  cmd.body = std::move(s);
}

void parse_get_pref(Cursor& c, Command& cmd) {
  GetPimapPref g;
  g.plural = cmd.name.size() == std::string_view("XGETPIMAPPREFS").size();
  if (c.more()) {
    if (c.try_char('(')) {
      g.parenthesised = true;
      for (;;) {
        g.names.push_back(c.atom());
        if (c.try_char(')')) break;
        c.sp();
      }
    } else {
      g.names.push_back(c.atom());
    }
  }
  cmd.body = std::move(g);
}

void parse_filter(Cursor& c, Command& cmd) {
  Filter f;
  c.sp();
  bool atom = false;
  f.mailbox = c.astring(&atom);
  if (atom && iequals(f.mailbox, "ALL")) {
    f.all_mailboxes = true;
    f.mailbox = {};
  }
  c.sp();
  const std::string_view type = c.atom();
  if (iequals(type, "V")) {
    f.type = FilterType::view;
  } else if (iequals(type, "N")) {
    f.type = FilterType::notification;
  } else if (iequals(type, "B")) {
    f.type = FilterType::both;
  } else {
    c.fail("XFILTER type must be V, N or B");
  }
  c.sp();
  if (c.try_word("GET")) {
    if (f.type == FilterType::both) c.fail("XFILTER GET takes V or N, not B");
    f.get = true;
  } else {
    do {
      f.criteria.push_back(parse_search_key(c, true));
    } while (c.more());
  }
  cmd.body = std::move(f);
}

void parse_deliver(Cursor& c, Command& cmd) {
  Deliver d;
  c.sp();
  const std::string_view mode = c.atom();
  if (iequals(mode, "N")) {
    d.mode = DeliverMode::new_message;
  } else if (iequals(mode, "R") || iequals(mode, "F")) {
    d.mode = iequals(mode, "R") ? DeliverMode::reply : DeliverMode::forward;
    c.sp();
    d.mailbox = c.astring();
    c.sp();
    d.uid = c.nz_number();
    c.sp();
    const std::string_view att = c.atom();
    if (iequals(att, "Y")) {
      d.include_attachments = true;
    } else if (!iequals(att, "N")) {
      c.fail("XDELIVER attachment flag must be Y or N");
    }
  } else {
    c.fail("XDELIVER mode must be N, R or F");
  }
  c.sp();
  constexpr std::string_view kSaveTo = "SAVETO=";
  if (iequals(c.buf().substr(c.pos(), kSaveTo.size()), kSaveTo)) {
    c.set_pos(c.pos() + kSaveTo.size());
    d.save_to = c.astring();
    c.sp();
  }
  if (c.peek() != '{') c.fail_expected("the message literal");
  d.message = c.literal(false);
  cmd.body = d;
}

void parse_convert(Cursor& c, Command& cmd) {
  Convert v;
  c.sp();
  v.number = c.nz_number();
  c.sp();
  for (;;) {
    v.part.push_back(c.nz_number());
    if (!c.try_char('.')) break;
  }
  c.sp();
  if (!c.try_word("AS")) c.fail_expected("AS");
  c.sp();
  const std::string_view type = c.atom();
  const std::size_t slash = type.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == type.size() ||
      type.find('/', slash + 1) != std::string_view::npos) {
    c.fail("XCONVERT target must be type/subtype");
  }
  v.type = type.substr(0, slash);
  v.subtype = type.substr(slash + 1);
  if (c.more()) {
    c.expect('(');
    for (;;) {
      const std::string_view name = c.atom();
      c.sp();
      v.params.emplace_back(name, c.astring());
      if (c.try_char(')')) break;
      c.sp();
    }
  }
  cmd.body = std::move(v);
}

void parse_macro(Cursor& c, Command& cmd) {
  Macro m;
  c.sp();
  const std::string_view op = c.atom();
  if (iequals(op, "DEFINE")) {
    m.op = MacroOp::define;
    c.sp();
    m.name = c.atom();
    c.sp();
    do {
      if (c.peek() != '(') c.fail_expected("a parenthesised command");
      Arg body = c.arg();
      if (body.items.empty()) c.fail("empty command in XMACRO DEFINE");
      m.args.push_back(std::move(body));
    } while (c.more());
  } else if (iequals(op, "RUN")) {
    m.op = MacroOp::run;
    c.sp();
    m.name = c.atom();
    m.args = c.args_to_eol();
  } else if (iequals(op, "LIST")) {
    m.op = MacroOp::list;
  } else if (iequals(op, "DELETE")) {
    m.op = MacroOp::delete_;
    c.sp();
    m.name = c.atom();
  } else {
    c.fail("XMACRO operation must be DEFINE, RUN, LIST or DELETE");
  }
  cmd.body = std::move(m);
}

Command parse_tagged(Cursor& c, const std::shared_ptr<CommandStorage>& storage);

void parse_xzip(Cursor& c, Command& cmd, const std::shared_ptr<CommandStorage>& storage) {
  Cursor::Depth depth(c);
  c.sp();
  cmd.body = Xzip{std::make_shared<const Command>(parse_tagged(c, storage))};
}

void parse_body(Cursor& c, Command& cmd, const std::shared_ptr<CommandStorage>& storage) {
  switch (cmd.kind) {
    case CommandKind::capability:
    case CommandKind::noop:
    case CommandKind::logout:
    case CommandKind::starttls:
    case CommandKind::namespace_:
    case CommandKind::idle:
    case CommandKind::check:
    case CommandKind::close:
    case CommandKind::unselect:
      return no_args(c, cmd);
    case CommandKind::expunge:
      if (!cmd.uid) return no_args(c, cmd);
      c.sp();
      cmd.body = UidExpunge{c.sequence_set()};
      return;
    case CommandKind::authenticate: return parse_authenticate(c, cmd);
    case CommandKind::login: return parse_login(c, cmd);
    case CommandKind::select:
    case CommandKind::examine: return parse_select(c, cmd);
    case CommandKind::create:
    case CommandKind::delete_:
    case CommandKind::subscribe:
    case CommandKind::unsubscribe: return parse_mailbox_arg(c, cmd);
    case CommandKind::rename: return parse_rename(c, cmd);
    case CommandKind::list:
    case CommandKind::lsub: return parse_list(c, cmd);
    case CommandKind::status: return parse_status(c, cmd);
    case CommandKind::append: return parse_append(c, cmd);
    case CommandKind::enable: return parse_enable(c, cmd);
    case CommandKind::compress:
      c.sp();
      cmd.body = Compress{c.atom()};
      return;
    case CommandKind::search: return parse_search(c, cmd);
    case CommandKind::fetch: return parse_fetch(c, cmd);
    case CommandKind::store: return parse_store(c, cmd);
    case CommandKind::copy:
    case CommandKind::move: return parse_copy_move(c, cmd);
    case CommandKind::xsetpimappref: return parse_set_pref(c, cmd);
    case CommandKind::xgetpimappref: return parse_get_pref(c, cmd);
    case CommandKind::xprovision:
      cmd.body = Provision{c.args_to_eol()};
      return;
    case CommandKind::xfilter: return parse_filter(c, cmd);
    case CommandKind::xdeliver: return parse_deliver(c, cmd);
    case CommandKind::xzip: return parse_xzip(c, cmd, storage);
    case CommandKind::xconvert: return parse_convert(c, cmd);
    case CommandKind::xmacro: return parse_macro(c, cmd);
    case CommandKind::id:
    case CommandKind::notify:
    case CommandKind::other:
      cmd.body = Generic{c.args_to_eol()};
      return;
  }
}

Command parse_tagged(Cursor& c, const std::shared_ptr<CommandStorage>& storage) {
  Command cmd;
  const std::size_t start = c.pos();
  cmd.tag = c.chars_of(chars::kTag, "a tag");
  if (!c.more()) c.fail("missing command name");
  cmd.name = c.atom();
  if (iequals(cmd.name, "UID")) {
    cmd.uid = true;
    c.sp();
    cmd.name = c.atom();
  }
  const CommandDef* def = find_command(cmd.name);
  if (def != nullptr) {
    if (cmd.uid && !def->uid_ok) c.fail("UID " + std::string(def->name) + " is not a command");
    cmd.kind = def->kind;
  }
  parse_body(c, cmd, storage);
  if (cmd.kind != CommandKind::xzip) c.expect_eol();
  cmd.raw = c.buf().substr(start);
  cmd.storage = storage;
  return cmd;
}

std::string leading_tag(std::string_view raw) {
  std::size_t n = 0;
  while (n < raw.size() && n < 256 && chars::is(raw[n], chars::kTag)) ++n;
  if (n == 0 || n == 256 || n >= raw.size()) return {};
  if (raw[n] != ' ' && raw[n] != '\r' && raw[n] != '\n') return {};
  return std::string(raw.substr(0, n));
}

}  // namespace

std::variant<Command, ParseError> parse_grammar(std::shared_ptr<CommandStorage> storage,
                                                const ParserLimits& limits) {
  const std::string_view raw = storage->raw;
  {
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (iequals(line, "DONE")) {
      return ParseError{ErrorCode::unexpected_done, {}, "DONE outside IDLE"};
    }
  }
  std::string tag = leading_tag(raw);
  if (tag.empty()) {
    return ParseError{ErrorCode::missing_tag, {}, "missing or invalid tag"};
  }
  try {
    Cursor c(raw, *storage, limits);
    return parse_tagged(c, storage);
  } catch (GrammarFailure& f) {
    return ParseError{f.code, std::move(tag), std::move(f.reason)};
  } catch (const std::bad_alloc&) {
    return ParseError{ErrorCode::command_too_large, std::move(tag), "out of memory parsing the command"};
  }
}

}  // namespace pimap::imap::detail
