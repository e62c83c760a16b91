#include "pimap/imap/command.hpp"

namespace pimap::imap {

std::string_view command_name(CommandKind kind) {
  switch (kind) {
    case CommandKind::capability: return "CAPABILITY";
    case CommandKind::noop: return "NOOP";
    case CommandKind::logout: return "LOGOUT";
    case CommandKind::id: return "ID";
    case CommandKind::starttls: return "STARTTLS";
    case CommandKind::authenticate: return "AUTHENTICATE";
    case CommandKind::login: return "LOGIN";
    case CommandKind::select: return "SELECT";
    case CommandKind::examine: return "EXAMINE";
    case CommandKind::create: return "CREATE";
    case CommandKind::delete_: return "DELETE";
    case CommandKind::rename: return "RENAME";
    case CommandKind::subscribe: return "SUBSCRIBE";
    case CommandKind::unsubscribe: return "UNSUBSCRIBE";
    case CommandKind::list: return "LIST";
    case CommandKind::lsub: return "LSUB";
    case CommandKind::status: return "STATUS";
    case CommandKind::append: return "APPEND";
    case CommandKind::namespace_: return "NAMESPACE";
    case CommandKind::enable: return "ENABLE";
    case CommandKind::idle: return "IDLE";
    case CommandKind::compress: return "COMPRESS";
    case CommandKind::notify: return "NOTIFY";
    case CommandKind::check: return "CHECK";
    case CommandKind::close: return "CLOSE";
    case CommandKind::unselect: return "UNSELECT";
    case CommandKind::expunge: return "EXPUNGE";
    case CommandKind::search: return "SEARCH";
    case CommandKind::fetch: return "FETCH";
    case CommandKind::store: return "STORE";
    case CommandKind::copy: return "COPY";
    case CommandKind::move: return "MOVE";
    case CommandKind::xsetpimappref: return "XSETPIMAPPREF";
    case CommandKind::xgetpimappref: return "XGETPIMAPPREF";
    case CommandKind::xprovision: return "XPROVISION";
    case CommandKind::xfilter: return "XFILTER";
    case CommandKind::xdeliver: return "XDELIVER";
    case CommandKind::xzip: return "XZIP";
    case CommandKind::xconvert: return "XCONVERT";
    case CommandKind::xmacro: return "XMACRO";
    case CommandKind::other: return "";
  }
  return "";
}

std::string_view Command::raw_after_tag() const {
  if (raw.size() <= tag.size() || raw.substr(0, tag.size()) != tag) return raw;
  return raw.substr(tag.size() + 1);
}

bool operator==(const Xzip& a, const Xzip& b) {
  if (a.inner == nullptr || b.inner == nullptr) return a.inner == b.inner;
  return *a.inner == *b.inner;
}

bool operator==(const Command& a, const Command& b) {
  if (a.tag != b.tag || a.kind != b.kind || a.uid != b.uid) return false;
  if (a.kind == CommandKind::other && !iequals(a.name, b.name)) return false;
  return a.body == b.body;
}

}  // namespace pimap::imap
