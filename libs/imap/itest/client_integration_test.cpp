// The async IMAP client against a real Dovecot 2.3 (the local cluster of scripts/stack).
//
// Needs PIMAP_STACK_JSON = path of the stack.json that `scripts/stack up` writes; skipped when it is
// unset. Every test works in mailboxes of its own (random names) or identifies its own messages by a
// random Message-ID, so tests may run in parallel with each other and with other suites.

// GCC 12 at -O2 reports false "potential null pointer dereference"s inside Asio's scheduler and
// type-erased executors, inlined here from system headers.
#pragma GCC diagnostic ignored "-Wnull-dereference"
// ...and a false -Wmismatched-new-delete for Asio's coroutine frames (awaitable_frame_base).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pimap/imap/client.hpp"
#include "pimap/imap/response_body.hpp"
#include "pimap/testing/local_stack.hpp"

namespace pimap::imap {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;

using testing::Endpoint;
using User = testing::StackUser;
using testing::random_token;
using Stack = testing::LocalStack;

const testing::LocalStack* stack() { return testing::local_stack(); }

#define REQUIRE_STACK() PIMAP_REQUIRE_STACK()

// Users: tests pick different ones so IDLE/NOTIFY waits are not disturbed by other tests' mail.
const User& user(std::size_t i) { return stack()->users.at(i % stack()->users.size()); }

ClientOptions options(Security sec) {
  ClientOptions o;
  const Stack& s = *stack();
  const Endpoint& e = sec == Security::implicit_tls ? s.imaps : s.imap;
  o.host = e.host;
  o.port = e.port;
  o.security = sec;
  o.ca_file = s.ca_cert;
  o.tls_server_name = "localhost";  // the stack's certificate names localhost and 127.0.0.1
  o.command_timeout = 15s;
  return o;
}

// ASSERT_* cannot be used in coroutines (they `return`): this ends the coroutine by throwing, which
// run() turns into a test failure, after an EXPECT_* has reported the values.
[[noreturn]] void requirement_failed(const char* what) {
  throw std::runtime_error(std::string("requirement failed: ") + what);
}
#define CO_REQUIRE(cond)                   \
  do {                                     \
    if (!(cond)) requirement_failed(#cond); \
  } while (0)

// Runs a coroutine on a fresh io_context with an overall deadline; rethrows what it throws.
void run(std::function<awaitable<void>(asio::io_context&)> body, std::chrono::seconds limit = 60s) {
  asio::io_context io;
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(io, body(io), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  io.run_for(limit);
  ASSERT_TRUE(done) << "test did not finish within " << limit.count() << " s";
  if (failure) std::rethrow_exception(failure);
}

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
}

awaitable<void> login(Client& c, const User& u) {
  auto r = co_await c.async_login(u.name, u.password, use_awaitable);
  EXPECT_TRUE(r.ok()) << r.text();
}

CommandResult expect_ok(CommandResult r, std::string_view what) {
  EXPECT_TRUE(r.ok()) << what << ": " << to_string(r.status) << " " << r.text();
  return r;
}

std::string message(std::string_view msgid, std::string_view subject, std::string_view body) {
  std::string m = "From: itest <itest@example.test>\r\nTo: user@example.test\r\nSubject: ";
  m += subject;
  m += "\r\nMessage-ID: <";
  m += msgid;
  m += ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  m += body;
  m += "\r\n";
  return m;
}

// Delivers `msg` to `rcpt` over LMTP (RFC 2033), as Postfix would.
awaitable<void> lmtp_deliver(const Endpoint& lmtp, const std::string& rcpt, const std::string& msg) {
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::socket s(ex);
  co_await s.async_connect({asio::ip::make_address(lmtp.host), lmtp.port}, use_awaitable);
  asio::streambuf buf;
  auto expect = [&](std::string_view code) -> awaitable<void> {
    for (;;) {
      const std::size_t n = co_await asio::async_read_until(s, buf, "\r\n", use_awaitable);
      std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
      buf.consume(n);
      if (line.compare(0, code.size(), code) != 0) throw std::runtime_error("LMTP: expected " + std::string(code) + ", got " + line);
      if (line.size() > 3 && line[3] == ' ') co_return;  // last line of a multi-line reply
    }
  };
  auto send = [&](const std::string& line) -> awaitable<void> {
    co_await asio::async_write(s, asio::buffer(line), use_awaitable);
  };
  co_await expect("220");
  co_await send("LHLO localhost\r\n");
  co_await expect("250");
  co_await send("MAIL FROM:<itest@example.test>\r\n");
  co_await expect("250");
  co_await send("RCPT TO:<" + rcpt + ">\r\n");
  co_await expect("250");
  co_await send("DATA\r\n");
  co_await expect("354");
  co_await send(msg + ".\r\n");
  co_await expect("250");
  co_await send("QUIT\r\n");
}

// (Outside the coroutines: GCC 12 miscompiles braced initialiser lists inside co_await expressions.)
const std::vector<std::string> kQresync{"QRESYNC"};

// A mailbox of the test's own, deleted again at the end.
struct ScratchMailbox {
  std::string name = "itest-" + random_token();
};

awaitable<std::uint32_t> append(Client& c, const std::string& mailbox, const std::string& msg, std::string_view flags = "") {
  ClientCommand cmd("APPEND");
  cmd.astring(mailbox);
  if (!flags.empty()) cmd.arg("(" + std::string(flags) + ")");
  cmd.literal(msg);
  auto r = expect_ok(co_await c.async_command(std::move(cmd), use_awaitable), "APPEND");
  EXPECT_EQ(r.code().kind, ResponseCodeKind::appenduid);
  co_return static_cast<std::uint32_t>(r.code().set1.begin() != r.code().set1.end() ? (*r.code().set1.begin()).first : 0);
}

// ---------------------------------------------------------------------------------------------

TEST(ImapClientIntegration, ImplicitTlsVerifiesTheCertificate) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    Client c(io.get_executor(), options(Security::implicit_tls));
    co_await c.async_connect(use_awaitable);
    EXPECT_TRUE(c.tls_active());
    EXPECT_TRUE(c.has_capability("IMAP4rev1"));
    EXPECT_FALSE(c.has_capability("STARTTLS"));
    co_await login(c, user(0));
    EXPECT_TRUE(c.has_capability("QRESYNC")) << "post-login capabilities";
    auto bye = co_await c.async_logout(use_awaitable);
    EXPECT_TRUE(bye.ok());
    EXPECT_FALSE(bye.untagged.empty());
    CO_REQUIRE(!(bye.untagged.empty()));
    EXPECT_EQ(bye.untagged.front()->status, ResponseStatus::bye);
  });
}

TEST(ImapClientIntegration, StartTlsUpgradesAndRelearnsCapabilities) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    Client c(io.get_executor(), options(Security::starttls));
    std::vector<std::string> sent;
    c.set_trace([&](TraceDirection d, std::string_view s) {
      if (d == TraceDirection::sent) sent.emplace_back(s);
    });
    co_await c.async_connect(use_awaitable);
    EXPECT_TRUE(c.tls_active());
    // Capabilities were re-read over TLS: Dovecot stops offering STARTTLS once it is active.
    EXPECT_FALSE(c.has_capability("STARTTLS"));
    EXPECT_TRUE(c.has_capability("AUTH=PLAIN"));
    co_await login(c, user(0));
    auto r = expect_ok(co_await c.async_command(ClientCommand("NOOP"), use_awaitable), "NOOP");
    // No credential in the trace.
    for (const auto& line : sent) EXPECT_EQ(line.find(user(0).password), std::string::npos) << line;
    // STARTTLS first (the greeting named the capabilities), then CAPABILITY again over TLS.
    EXPECT_GE(sent.size(), 3u);
    CO_REQUIRE(sent.size() >= 3u);
    EXPECT_NE(sent[0].find("STARTTLS"), std::string::npos) << sent[0];
    EXPECT_NE(sent[1].find("CAPABILITY"), std::string::npos) << sent[1];
    EXPECT_NE(sent[2].find("LOGIN <redacted>"), std::string::npos) << sent[2];
  });
}

TEST(ImapClientIntegration, PlainConnectionWithoutTls) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    Client c(io.get_executor(), options(Security::plain));
    co_await c.async_connect(use_awaitable);
    EXPECT_FALSE(c.tls_active());
    EXPECT_TRUE(c.has_capability("STARTTLS"));
    co_await login(c, user(0));
  });
}

TEST(ImapClientIntegration, UnknownCaIsRejected) {
  REQUIRE_STACK();
  for (Security sec : {Security::implicit_tls, Security::starttls}) {
    run([sec](asio::io_context& io) -> awaitable<void> {
      ClientOptions o = options(sec);
      o.ca_file.clear();  // the system's trust store does not know the stack's private CA
      Client c(io.get_executor(), o);
      boost::system::error_code ec;
      co_await c.async_connect(asio::redirect_error(use_awaitable, ec));
      EXPECT_TRUE(ec) << "connected despite an untrusted certificate";
      EXPECT_NE(ec.message().find("certificate verify failed"), std::string::npos) << ec.message();
      EXPECT_FALSE(c.connected());
    });
  }
}

TEST(ImapClientIntegration, WrongHostNameIsRejected) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    ClientOptions o = options(Security::implicit_tls);
    o.tls_server_name = "not-the-server.example";
    Client c(io.get_executor(), o);
    boost::system::error_code ec;
    co_await c.async_connect(asio::redirect_error(use_awaitable, ec));
    EXPECT_TRUE(ec);
    EXPECT_NE(ec.message().find("certificate verify failed"), std::string::npos) << ec.message();
  });
}

TEST(ImapClientIntegration, MasterUserLoginOperatesOnTheUsersMailbox) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    const Stack& s = *stack();
    const std::string msgid = random_token() + "@itest";
    ScratchMailbox box;
    {
      Client owner(io.get_executor(), options(Security::implicit_tls));
      co_await owner.async_connect(use_awaitable);
      co_await login(owner, user(1));
      expect_ok(co_await owner.async_command(ClientCommand("CREATE").astring(box.name), use_awaitable), "CREATE");
      co_await append(owner, box.name, message(msgid, "for the master", "hello"));
      co_await owner.async_logout(use_awaitable);
    }
    ClientOptions o = options(Security::implicit_tls);
    o.master_user_separator = s.separator;
    Client c(io.get_executor(), o);
    co_await c.async_connect(use_awaitable);
    auto r = co_await c.async_login_master(user(1).name, s.master_user, s.master_password, use_awaitable);
    EXPECT_TRUE(r.ok()) << r.text();
    CO_REQUIRE(r.ok());
    auto sel = expect_ok(co_await c.async_command(ClientCommand("SELECT").astring(box.name), use_awaitable), "SELECT");
    std::uint32_t exists = 0;
    for (const auto& u : sel.untagged)
      if (u->untagged == UntaggedKind::exists) exists = u->number;
    EXPECT_EQ(exists, 1u);
    auto f = expect_ok(co_await c.async_command(ClientCommand("FETCH 1 (ENVELOPE)"), use_awaitable), "FETCH");
    EXPECT_EQ(f.untagged.size(), 1u);
    CO_REQUIRE(f.untagged.size() == 1u);
    FetchEnvelope env;
    EXPECT_FALSE(parse_envelope(f.untagged[0]->fetch.find(FetchAttr::envelope)->raw, env));
    CO_REQUIRE(!(parse_envelope(f.untagged[0]->fetch.find(FetchAttr::envelope)->raw, env)));
    EXPECT_EQ(env.message_id.str, "<" + msgid + ">");
    expect_ok(co_await c.async_command(ClientCommand("UNSELECT"), use_awaitable), "UNSELECT");
    expect_ok(co_await c.async_command(ClientCommand("DELETE").astring(box.name), use_awaitable), "DELETE");

    // The SASL form: authorization identity = the user, authentication identity = the master.
    Client sasl(io.get_executor(), options(Security::implicit_tls));
    co_await sasl.async_connect(use_awaitable);
    auto a = co_await sasl.async_authenticate_plain(s.master_user, s.master_password, user(1).name, use_awaitable);
    EXPECT_TRUE(a.ok()) << a.text();
    // A wrong master password is a NO, not an error.
    Client bad(io.get_executor(), options(Security::implicit_tls));
    co_await bad.async_connect(use_awaitable);
    auto n = co_await bad.async_login_master(user(1).name, s.master_user, "wrong-password", use_awaitable);
    EXPECT_EQ(n.status, ResponseStatus::no);
  });
}

TEST(ImapClientIntegration, QresyncSelectSeesChangesMadeByAnotherConnection) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    ScratchMailbox box;
    const User& u = user(2);
    std::uint32_t uidvalidity = 0;
    std::uint64_t modseq = 0;
    std::vector<std::uint32_t> uids;
    {  // 1. the client's view: three messages, remember UIDVALIDITY + HIGHESTMODSEQ
      Client a(io.get_executor(), options(Security::implicit_tls));
      co_await a.async_connect(use_awaitable);
      co_await login(a, u);
      expect_ok(co_await a.async_command(ClientCommand("CREATE").astring(box.name), use_awaitable), "CREATE");
      for (int i = 0; i < 3; ++i) {
        const std::string m = message(random_token() + "@q", "m", "x");
        uids.push_back(co_await append(a, box.name, m));
      }
      expect_ok(co_await a.async_enable(kQresync, use_awaitable), "ENABLE");
      EXPECT_TRUE(a.is_enabled("QRESYNC"));
      auto sel = expect_ok(co_await a.async_command(ClientCommand("SELECT").astring(box.name), use_awaitable), "SELECT");
      for (const auto& r : sel.untagged) {
        if (r->code.kind == ResponseCodeKind::uidvalidity) uidvalidity = static_cast<std::uint32_t>(r->code.number);
        if (r->code.kind == ResponseCodeKind::highestmodseq) modseq = r->code.number;
      }
      co_await a.async_logout(use_awaitable);
    }
    EXPECT_NE(uidvalidity, 0u);
    CO_REQUIRE(uidvalidity != 0u);
    EXPECT_NE(modseq, 0u);
    CO_REQUIRE(modseq != 0u);
    {  // 2. another connection flags the second message and expunges the first
      Client b(io.get_executor(), options(Security::implicit_tls));
      co_await b.async_connect(use_awaitable);
      co_await login(b, u);
      expect_ok(co_await b.async_command(ClientCommand("SELECT").astring(box.name), use_awaitable), "SELECT");
      ClientCommand flag("UID STORE " + std::to_string(uids[1]) + " +FLAGS (\\Flagged)");
      ClientCommand del("UID STORE " + std::to_string(uids[0]) + " +FLAGS.SILENT (\\Deleted)");
      ClientCommand expunge("UID EXPUNGE " + std::to_string(uids[0]));
      expect_ok(co_await b.async_command(std::move(flag), use_awaitable), "STORE");
      expect_ok(co_await b.async_command(std::move(del), use_awaitable), "STORE");
      expect_ok(co_await b.async_command(std::move(expunge), use_awaitable), "EXPUNGE");
      co_await b.async_logout(use_awaitable);
    }
    // 3. resynchronise: SELECT (QRESYNC (uidvalidity modseq)) reports exactly those changes
    Client c(io.get_executor(), options(Security::starttls));
    co_await c.async_connect(use_awaitable);
    co_await login(c, u);
    expect_ok(co_await c.async_enable(kQresync, use_awaitable), "ENABLE");
    auto sel = expect_ok(
        co_await c.async_command(ClientCommand("SELECT")
                                     .astring(box.name)
                                     .arg("(QRESYNC (" + std::to_string(uidvalidity) + " " + std::to_string(modseq) + "))"),
                                 use_awaitable),
        "SELECT QRESYNC");
    bool vanished = false;
    bool flagged = false;
    std::uint64_t new_modseq = 0;
    for (const auto& r : sel.untagged) {
      if (r->untagged == UntaggedKind::vanished) {
        EXPECT_TRUE(r->vanished.earlier);
        EXPECT_TRUE(r->vanished.uids.contains(uids[0]));
        EXPECT_FALSE(r->vanished.uids.contains(uids[1]));
        vanished = true;
      }
      if (r->untagged == UntaggedKind::fetch && r->fetch.uid() == uids[1]) {
        const FetchItem* f = r->fetch.find(FetchAttr::flags);
        EXPECT_NE(f, nullptr);
        CO_REQUIRE(f != nullptr);
        EXPECT_TRUE(f->flags.contains("\\Flagged"));
        EXPECT_GT(r->fetch.modseq().value_or(0), modseq);
        flagged = true;
      }
      if (r->code.kind == ResponseCodeKind::highestmodseq) new_modseq = r->code.number;
    }
    EXPECT_TRUE(vanished) << "no VANISHED (EARLIER)";
    EXPECT_TRUE(flagged) << "no FETCH with the changed FLAGS";
    EXPECT_GT(new_modseq, modseq);
    expect_ok(co_await c.async_command(ClientCommand("UNSELECT"), use_awaitable), "UNSELECT");
    expect_ok(co_await c.async_command(ClientCommand("DELETE").astring(box.name), use_awaitable), "DELETE");
  });
}

TEST(ImapClientIntegration, IdleSeesAnLmtpDelivery) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    const User& u = user(3);
    const std::string msgid = random_token() + "@idle";
    Client c(io.get_executor(), options(Security::implicit_tls));
    co_await c.async_connect(use_awaitable);
    co_await login(c, u);
    auto sel = expect_ok(co_await c.async_command(ClientCommand("SELECT INBOX"), use_awaitable), "SELECT");
    std::uint32_t exists = 0;
    for (const auto& r : sel.untagged)
      if (r->untagged == UntaggedKind::exists) exists = r->number;

    std::uint32_t seen_exists = 0;
    co_await c.async_idle(
        [&](const Response& r) {
          if (r.untagged == UntaggedKind::exists) seen_exists = r.number;
        },
        use_awaitable);
    EXPECT_TRUE(c.idling());
    const auto t0 = std::chrono::steady_clock::now();
    co_await lmtp_deliver(stack()->lmtp, u.email, message(msgid, "idle test", "body"));
    // Dovecot notifies IDLE sessions about 0.5 s after a change.
    while (seen_exists <= exists && std::chrono::steady_clock::now() - t0 < 10s) co_await sleep_for(50ms);
    EXPECT_GT(seen_exists, exists) << "IDLE saw no EXISTS within 10 s";
    auto done = co_await c.async_idle_done(use_awaitable);
    EXPECT_TRUE(done.ok()) << done.text();
    EXPECT_FALSE(c.idling());
    // The new message is the one delivered.
    auto f = expect_ok(co_await c.async_command(ClientCommand("FETCH " + std::to_string(seen_exists) + " (ENVELOPE)"),
                                                use_awaitable),
                       "FETCH");
    bool found = false;
    for (const auto& r : f.untagged) {
      if (const FetchItem* e = r->fetch.find(FetchAttr::envelope)) {
        FetchEnvelope env;
        EXPECT_FALSE(parse_envelope(e->raw, env));
        found = found || env.message_id.str == "<" + msgid + ">";
      }
    }
    EXPECT_TRUE(found);
  });
}

TEST(ImapClientIntegration, NotifySeesAChangeInAnotherMailbox) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    const User& u = user(4);
    ScratchMailbox box;
    Client c(io.get_executor(), options(Security::implicit_tls));
    co_await c.async_connect(use_awaitable);
    co_await login(c, u);
    if (!c.has_capability("NOTIFY")) {
      ADD_FAILURE() << "Dovecot does not offer NOTIFY (mailbox_list_index = yes needed)";
      co_return;
    }
    expect_ok(co_await c.async_command(ClientCommand("CREATE").astring(box.name), use_awaitable), "CREATE");
    expect_ok(co_await c.async_command(ClientCommand("SELECT INBOX"), use_awaitable), "SELECT");
    expect_ok(co_await c.async_notify_set("STATUS (selected (MessageNew MessageExpunge FlagChange)) (mailboxes " +
                                              box.name + " (MessageNew MessageExpunge FlagChange))",
                                          use_awaitable),
              "NOTIFY SET");
    std::optional<std::uint32_t> messages;
    std::string mailbox;
    co_await c.async_idle(
        [&](const Response& r) {
          if (r.untagged == UntaggedKind::status) {
            mailbox = std::string(r.status_data.mailbox);
            messages = r.status_data.messages;
          }
        },
        use_awaitable);
    {
      Client other(io.get_executor(), options(Security::implicit_tls));
      co_await other.async_connect(use_awaitable);
      co_await login(other, u);
      co_await append(other, box.name, message(random_token() + "@notify", "notify", "x"));
      co_await other.async_logout(use_awaitable);
    }
    const auto t0 = std::chrono::steady_clock::now();
    while (!messages && std::chrono::steady_clock::now() - t0 < 10s) co_await sleep_for(50ms);
    EXPECT_EQ(mailbox, box.name);
    EXPECT_EQ(messages, 1u) << "no unsolicited STATUS for the non-selected mailbox";
    expect_ok(co_await c.async_idle_done(use_awaitable), "IDLE");
    expect_ok(co_await c.async_command(ClientCommand("NOTIFY NONE"), use_awaitable), "NOTIFY NONE");
    expect_ok(co_await c.async_command(ClientCommand("DELETE").astring(box.name), use_awaitable), "DELETE");
  });
}

TEST(ImapClientIntegration, CompressDeflateRoundTrip) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    ScratchMailbox box;
    Client c(io.get_executor(), options(Security::implicit_tls));
    std::size_t sent_bytes = 0;
    c.set_trace([&](TraceDirection d, std::string_view s) {
      if (d == TraceDirection::sent) sent_bytes += s.size();
    });
    co_await c.async_connect(use_awaitable);
    co_await login(c, user(5));
    EXPECT_TRUE(c.has_capability("COMPRESS=DEFLATE"));
    CO_REQUIRE((c.has_capability("COMPRESS=DEFLATE")));
    auto z = co_await c.async_compress(use_awaitable);
    EXPECT_TRUE(z.ok()) << z.text();
    CO_REQUIRE(z.ok());
    EXPECT_TRUE(c.compression_active());
    // A second COMPRESS is refused by the server, in compressed form.
    auto again = co_await c.async_compress(use_awaitable);
    EXPECT_EQ(again.status, ResponseStatus::no);
    EXPECT_EQ(again.code().kind, ResponseCodeKind::compressionactive);
    // Big literal up, same bytes back down, through the deflate streams.
    std::string body;
    std::mt19937 rng(7);
    for (int i = 0; i < 4000; ++i) body += "line " + std::to_string(rng()) + " of the compressed test message\r\n";
    const std::string msg = message(random_token() + "@z", "compress", body);
    expect_ok(co_await c.async_command(ClientCommand("CREATE").astring(box.name), use_awaitable), "CREATE");
    const std::uint32_t uid = co_await append(c, box.name, msg);
    expect_ok(co_await c.async_command(ClientCommand("SELECT").astring(box.name), use_awaitable), "SELECT");
    auto f = expect_ok(co_await c.async_command(ClientCommand("UID FETCH " + std::to_string(uid) + " (BODY.PEEK[])"),
                                                use_awaitable),
                       "FETCH");
    EXPECT_EQ(f.untagged.size(), 1u);
    CO_REQUIRE(f.untagged.size() == 1u);
    const FetchItem* b = f.untagged[0]->fetch.find_section("");
    EXPECT_NE(b, nullptr);
    CO_REQUIRE(b != nullptr);
    EXPECT_EQ(b->string.str, msg);
    // IDLE works on a compressed stream too.
    co_await c.async_idle([](const Response&) {}, use_awaitable);
    expect_ok(co_await c.async_idle_done(use_awaitable), "IDLE");
    expect_ok(co_await c.async_command(ClientCommand("UNSELECT"), use_awaitable), "UNSELECT");
    expect_ok(co_await c.async_command(ClientCommand("DELETE").astring(box.name), use_awaitable), "DELETE");
  });
}

TEST(ImapClientIntegration, PipelinedCommandsAllCompleteAndNoResponseIsLost) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    ScratchMailbox box;
    Client c(io.get_executor(), options(Security::implicit_tls));
    co_await c.async_connect(use_awaitable);
    co_await login(c, user(6));
    expect_ok(co_await c.async_command(ClientCommand("CREATE").astring(box.name), use_awaitable), "CREATE");
    for (int i = 0; i < 5; ++i) {
      const std::string m = message(random_token() + "@p", "p" + std::to_string(i), "x");
      co_await append(c, box.name, m);
    }
    expect_ok(co_await c.async_command(ClientCommand("SELECT").astring(box.name), use_awaitable), "SELECT");
    // 30 commands written back to back before any answer is read. Dovecot runs such FETCHes
    // concurrently and interleaves their untagged data, so the data cannot be attributed to a
    // command (RFC 3501 5.5); what must hold: every command completes once, with its own tagged
    // response, and every FETCH response is delivered exactly once.
    constexpr int kN = 30;
    int completed = 0;
    std::map<std::string, int> subjects;
    std::set<std::string> tags;
    for (int i = 0; i < kN; ++i) {
      c.async_command(ClientCommand("FETCH " + std::to_string(i % 5 + 1) + " (ENVELOPE)"),
                      [&](boost::system::error_code ec, CommandResult r) {
                        EXPECT_FALSE(ec) << ec.message();
                        EXPECT_TRUE(r.ok());
                        tags.insert(std::string(r.tagged->tag));
                        for (const auto& u : r.untagged) {
                          FetchEnvelope env;
                          EXPECT_FALSE(parse_envelope(u->fetch.find(FetchAttr::envelope)->raw, env));
                          ++subjects[std::string(env.subject.str)];
                        }
                        ++completed;
                      });
    }
    EXPECT_GE(c.commands_in_flight(), static_cast<std::size_t>(kN));
    while (completed < kN) co_await sleep_for(10ms);
    EXPECT_EQ(tags.size(), static_cast<std::size_t>(kN));
    EXPECT_EQ(subjects, (std::map<std::string, int>{{"p0", 6}, {"p1", 6}, {"p2", 6}, {"p3", 6}, {"p4", 6}}));
    expect_ok(co_await c.async_command(ClientCommand("UNSELECT"), use_awaitable), "UNSELECT");
    expect_ok(co_await c.async_command(ClientCommand("DELETE").astring(box.name), use_awaitable), "DELETE");
  });
}

TEST(ImapClientIntegration, SynchronisingLiteralsWaitForContinuation) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    ScratchMailbox box;
    ClientOptions o = options(Security::implicit_tls);
    o.use_literal_plus = false;  // Dovecot offers LITERAL+; force {n} and the wait for `+`
    Client c(io.get_executor(), o);
    std::vector<std::string> wire;
    c.set_trace([&](TraceDirection d, std::string_view s) {
      wire.push_back((d == TraceDirection::sent ? "C: " : "S: ") + std::string(s.substr(0, 40)));
    });
    co_await c.async_connect(use_awaitable);
    co_await login(c, user(7));
    expect_ok(co_await c.async_command(ClientCommand("CREATE").astring(box.name), use_awaitable), "CREATE");
    const std::string msg = message(random_token() + "@lit", "literal", std::string(3000, 'l'));
    wire.clear();
    const std::uint32_t uid = co_await append(c, box.name, msg);
    EXPECT_GE(wire.size(), 3u);
    CO_REQUIRE(wire.size() >= 3u);
    EXPECT_EQ(wire[0].substr(0, 3), "C: ");
    EXPECT_NE(wire[0].find("APPEND"), std::string::npos);
    EXPECT_EQ(wire[1].substr(0, 5), "S: + ") << "the literal went out before the server's continuation";
    expect_ok(co_await c.async_command(ClientCommand("SELECT").astring(box.name), use_awaitable), "SELECT");
    auto f = expect_ok(co_await c.async_command(ClientCommand("UID FETCH " + std::to_string(uid) + " (BODY.PEEK[])"),
                                                use_awaitable),
                       "FETCH");
    EXPECT_EQ(f.untagged.size(), 1u);
    CO_REQUIRE(f.untagged.size() == 1u);
    EXPECT_EQ(f.untagged[0]->fetch.find_section("")->string.str, msg);
    // A literal the server refuses up front: the command fails, the connection stays in step.
    auto big = co_await c.async_command(ClientCommand("APPEND").astring(box.name + "-nonexistent").literal(msg),
                                        use_awaitable);
    EXPECT_EQ(big.status, ResponseStatus::no);
    expect_ok(co_await c.async_command(ClientCommand("NOOP"), use_awaitable), "NOOP");
    expect_ok(co_await c.async_command(ClientCommand("UNSELECT"), use_awaitable), "UNSELECT");
    expect_ok(co_await c.async_command(ClientCommand("DELETE").astring(box.name), use_awaitable), "DELETE");
  });
}

TEST(ImapClientIntegration, ServerCloseFailsPendingOperations) {
  REQUIRE_STACK();
  run([](asio::io_context& io) -> awaitable<void> {
    Client c(io.get_executor(), options(Security::implicit_tls));
    boost::system::error_code closed_with;
    bool closed = false;
    c.set_closed_handler([&](boost::system::error_code ec) {
      closed = true;
      closed_with = ec;
    });
    co_await c.async_connect(use_awaitable);
    co_await login(c, user(8));
    co_await c.async_logout(use_awaitable);
    while (!closed) co_await sleep_for(10ms);
    EXPECT_EQ(closed_with, make_error_code(ClientErrc::connection_closed));
    boost::system::error_code ec;
    co_await c.async_command(ClientCommand("NOOP"), asio::redirect_error(use_awaitable, ec));
    EXPECT_EQ(ec, make_error_code(ClientErrc::closed));
  });
}

}  // namespace
}  // namespace pimap::imap
