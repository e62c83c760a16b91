#include "imap_store_view.hpp"

#include <pimap/imap/client.hpp>
#include <pimap/imap/client_command.hpp>
#include <pimap/imap/response_body.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <utility>

namespace pimap::store_watcher {

imap::ClientOptions client_options(const ImapStoreOptions& store, std::string tag_prefix) {
  imap::ClientOptions co;
  co.host = store.host;
  co.port = store.port;
  co.security = store.implicit_tls ? imap::Security::implicit_tls : imap::Security::starttls;
  co.ca_file = store.ca_file;
  co.master_user_separator = store.master_separator;
  co.command_timeout = store.command_timeout;
  co.tag_prefix = std::move(tag_prefix);
  return co;
}

namespace imap = pimap::imap;

namespace {

// "28-Nov-2026 03:58:27 +0100" -> unix seconds; 0 when it does not parse.
std::int64_t parse_internaldate(std::string_view s) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::string text(s);
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0, zh = 0, zm = 0;
  char mon[4] = {}, sign = '+';
  if (std::sscanf(text.c_str(), " %d-%3s-%d %d:%d:%d %c%2d%2d", &day, mon, &year, &hh, &mm, &ss, &sign, &zh, &zm) != 9)
    return 0;
  std::tm tm{};
  tm.tm_mon = -1;
  for (int i = 0; i < 12; ++i)
    if (std::string_view(mon) == kMonths[i]) tm.tm_mon = i;
  if (tm.tm_mon < 0) return 0;
  tm.tm_mday = day;
  tm.tm_year = year - 1900;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  const std::int64_t offset = (zh * 3600 + zm * 60) * (sign == '-' ? -1 : 1);
  return static_cast<std::int64_t>(timegm(&tm)) - offset;
}

std::string address_text(const imap::FetchAddress& a) {
  std::string addr = std::string(a.mailbox.str) + (a.host ? "@" + std::string(a.host.str) : "");
  if (a.name && !a.name.str.empty()) return std::string(a.name.str) + " <" + addr + ">";
  return addr;
}

std::vector<std::string> flags_of(const imap::FetchItem& item) {
  std::vector<std::string> out;
  for (auto f : item.flags)
    if (!imap::ascii_iequals(f, "\\Recent")) out.emplace_back(f);  // per-session, not the store's
  return out;
}

void apply_status(const imap::StatusData& s, pimap::v1::MailboxStatus& out) {
  if (s.messages) out.set_messages(*s.messages);
  if (s.uidnext) out.set_uidnext(*s.uidnext);
  if (s.unseen) out.set_unseen(*s.unseen);
  if (s.highestmodseq) out.set_highestmodseq(*s.highestmodseq);
  if (s.uidvalidity) out.set_uidvalidity(*s.uidvalidity);
}

}  // namespace

struct ImapStoreView::Impl {
  ImapStoreOptions options;
  boost::asio::io_context io;
  std::unique_ptr<imap::Client> client;
  std::string user;  // whom `client` is logged in as

  void drop() {
    client.reset();  // pending operations complete with an error; drain them
    io.restart();
    io.poll();
    user.clear();
  }

  // Runs one command to completion on the private io_context.
  Outcome<imap::CommandResult> run(imap::ClientCommand cmd) {
    std::optional<std::pair<boost::system::error_code, imap::CommandResult>> out;
    client->async_command(std::move(cmd), [&out](boost::system::error_code ec, imap::CommandResult r) {
      out.emplace(ec, std::move(r));
    });
    io.restart();
    while (!out && io.run_one() > 0) {
    }
    if (!out) {
      drop();
      return Outcome<imap::CommandResult>::failure("IMAP client stopped without an answer");
    }
    if (out->first) {
      const std::string why = out->first.message();
      drop();
      return Outcome<imap::CommandResult>::failure(why);
    }
    if (!out->second.ok())
      return Outcome<imap::CommandResult>::failure(std::string(out->second.status == imap::ResponseStatus::no ? "NO "
                                                                                                              : "BAD ") +
                                                   std::string(out->second.text()));
    return Outcome<imap::CommandResult>::success(std::move(out->second));
  }

  // Empty = logged in as `u` (reusing the connection when it is already `u`'s).
  std::string session_for(const std::string& u) {
    if (client && user == u && client->connected()) return {};
    drop();
    client = std::make_unique<imap::Client>(io.get_executor(), client_options(options, "W"));
    std::optional<boost::system::error_code> connected;
    client->async_connect([&connected](boost::system::error_code ec) { connected = ec; });
    io.restart();
    while (!connected && io.run_one() > 0) {
    }
    if (!connected || *connected) {
      const std::string why = connected ? connected->message() : "no answer";
      drop();
      return "connect " + options.host + ":" + std::to_string(options.port) + ": " + why;
    }
    std::optional<std::pair<boost::system::error_code, imap::CommandResult>> login;
    client->async_login_master(u, options.master_user, options.master_password,
                               [&login](boost::system::error_code ec, imap::CommandResult r) {
                                 login.emplace(ec, std::move(r));
                               });
    while (!login && io.run_one() > 0) {
    }
    if (!login || login->first || !login->second.ok()) {
      // The server's text only; the password never appears in it.
      const std::string why = !login ? "no answer"
                              : login->first ? login->first.message()
                                             : std::string(login->second.text());
      drop();
      return "master login as " + u + ": " + why;
    }
    if (!client->has_capability("QRESYNC")) {
      drop();
      return "store does not offer QRESYNC";
    }
    auto enabled = run(imap::ClientCommand("ENABLE QRESYNC"));
    if (!enabled.ok()) {
      drop();
      return "ENABLE QRESYNC: " + enabled.error;
    }
    user = u;
    return {};
  }
};

ImapStoreView::ImapStoreView(ImapStoreOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

ImapStoreView::~ImapStoreView() { impl_->drop(); }

Outcome<std::vector<MailboxSnapshot>> ImapStoreView::mailboxes(const std::string& user) {
  using Result = Outcome<std::vector<MailboxSnapshot>>;
  if (auto e = impl_->session_for(user); !e.empty()) return Result::failure(e);
  auto listed = impl_->run(imap::ClientCommand(R"(LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT UNSEEN )"
                                                R"(HIGHESTMODSEQ UIDVALIDITY)))"));
  if (!listed.ok()) return Result::failure("LIST: " + listed.error);
  std::vector<std::string> order;
  std::map<std::string, pimap::v1::MailboxStatus> status;
  for (const auto& u : listed.value->untagged) {
    if (u->untagged == imap::UntaggedKind::list) {
      bool selectable = true;
      for (auto a : u->list.attributes)
        if (imap::ascii_iequals(a, "\\Noselect") || imap::ascii_iequals(a, "\\NonExistent")) selectable = false;
      if (selectable) order.emplace_back(u->list.mailbox);
    } else if (u->untagged == imap::UntaggedKind::status) {
      apply_status(u->status_data, status[std::string(u->status_data.mailbox)]);
    }
  }
  std::vector<MailboxSnapshot> out;
  for (auto& name : order) {
    auto it = status.find(name);
    if (it == status.end()) continue;  // vanished between LIST and STATUS
    out.push_back(MailboxSnapshot{std::move(name), it->second});
  }
  return Result::success(std::move(out));
}

Outcome<MailboxChanges> ImapStoreView::changes_since(const std::string& user, const std::string& mailbox,
                                                     const MailboxState& since) {
  using Result = Outcome<MailboxChanges>;
  if (auto e = impl_->session_for(user); !e.empty()) return Result::failure(e);
  MailboxChanges changes;

  // UNSEEN is not part of a SELECT's answer; asked first, before the mailbox is selected.
  auto st = impl_->run(imap::ClientCommand("STATUS").astring(mailbox).arg("(MESSAGES UNSEEN)"));
  if (!st.ok()) return Result::failure("STATUS: " + st.error);
  for (const auto& u : st.value->untagged)
    if (u->untagged == imap::UntaggedKind::status) apply_status(u->status_data, changes.status);

  // EXAMINE, not SELECT: read-only, so the watcher never takes \Recent away from the user's clients.
  const std::uint64_t modseq = since.highestmodseq == 0 ? 1 : since.highestmodseq;
  auto sel = impl_->run(imap::ClientCommand("EXAMINE").astring(mailbox).arg(
      "(QRESYNC (" + std::to_string(since.uidvalidity) + " " + std::to_string(modseq) + "))"));
  if (!sel.ok()) return Result::failure("EXAMINE: " + sel.error);
  std::map<std::uint32_t, ChangedMessage> by_uid;
  for (const auto& u : sel.value->untagged) {
    const auto& r = *u;
    switch (r.untagged) {
      case imap::UntaggedKind::condition:
        if (r.code.kind == imap::ResponseCodeKind::uidvalidity)
          changes.status.set_uidvalidity(static_cast<std::uint32_t>(r.code.number));
        else if (r.code.kind == imap::ResponseCodeKind::uidnext)
          changes.status.set_uidnext(static_cast<std::uint32_t>(r.code.number));
        else if (r.code.kind == imap::ResponseCodeKind::highestmodseq)
          changes.status.set_highestmodseq(r.code.number);
        break;
      case imap::UntaggedKind::exists:
        changes.status.set_messages(r.number);
        break;
      case imap::UntaggedKind::vanished:
        for (auto range : r.vanished.uids)
          for (std::uint64_t uid = range.first; uid <= range.last; ++uid)
            changes.vanished.push_back(static_cast<std::uint32_t>(uid));
        break;
      case imap::UntaggedKind::fetch: {
        auto uid = r.fetch.uid();
        if (!uid) break;
        ChangedMessage& m = by_uid[*uid];
        m.uid = *uid;
        m.modseq = r.fetch.modseq().value_or(0);
        if (const auto* f = r.fetch.find(imap::FetchAttr::flags)) m.flags = flags_of(*f);
        break;
      }
      default:
        break;
    }
  }
  // A mailbox left selected answers later LIST-STATUS/STATUS from its selected view, which Dovecot
  // refreshes only on the next sync: the following reconcile run would see stale HIGHESTMODSEQs.
  struct Unselect {
    Impl& impl;
    ~Unselect() {
      if (impl.client) (void)impl.run(imap::ClientCommand("UNSELECT"));
    }
  } unselect{*impl_};
  if (changes.status.uidvalidity() != since.uidvalidity) return Result::success(std::move(changes));

  if (changes.status.uidnext() > since.uidnext) {
    const std::uint32_t first = since.uidnext == 0 ? 1 : since.uidnext;
    auto fetched = impl_->run(imap::ClientCommand("UID FETCH")
                                  .arg(std::to_string(first) + ":*")
                                  .arg("(UID FLAGS MODSEQ RFC822.SIZE INTERNALDATE ENVELOPE)"));
    if (!fetched.ok()) return Result::failure("UID FETCH: " + fetched.error);
    for (const auto& u : fetched.value->untagged) {
      if (u->untagged != imap::UntaggedKind::fetch) continue;
      const auto& f = u->fetch;
      auto uid = f.uid();
      if (!uid || *uid < first) continue;  // "n:*" also names the last message when n is past it
      ChangedMessage& m = by_uid[*uid];
      m.uid = *uid;
      m.modseq = f.modseq().value_or(m.modseq);
      pimap::v1::MessageInfo info;
      info.set_uid(*uid);
      if (const auto* fl = f.find(imap::FetchAttr::flags)) {
        m.flags = flags_of(*fl);
        for (const auto& x : m.flags) info.add_flags(x);
      }
      if (const auto* size = f.find(imap::FetchAttr::rfc822_size)) info.set_size(size->number);
      if (const auto* date = f.find(imap::FetchAttr::internaldate))
        info.set_internal_date_unix(parse_internaldate(date->string.str));
      if (const auto* env = f.find(imap::FetchAttr::envelope)) {
        imap::FetchEnvelope e;
        if (!imap::parse_envelope(env->raw, e)) {
          if (e.subject) info.set_subject(std::string(e.subject.str));
          if (!e.from.empty()) info.set_from(address_text(e.from.front()));
        }
      }
      m.info = std::move(info);
    }
  }
  for (auto& [uid, m] : by_uid) changes.changed.push_back(std::move(m));
  return Result::success(std::move(changes));
}

}  // namespace pimap::store_watcher
