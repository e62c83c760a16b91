// The async client against a scripted in-process server on 127.0.0.1: the cases a real Dovecot will
// not produce on demand (timeouts, STARTTLS injection, malformed and unexpected responses, refused
// literals, ESEARCH routing, COMPRESS data right behind the OK).

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
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "pimap/imap/client.hpp"
#include "pimap/imap/client_deflate.hpp"

namespace pimap::imap {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

[[noreturn]] void requirement_failed(const char* what) { throw std::runtime_error(std::string("requirement failed: ") + what); }
#define CO_REQUIRE(cond)                   \
  do {                                     \
    if (!(cond)) requirement_failed(#cond); \
  } while (0)

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
}

// One scripted server connection.
class Peer {
 public:
  explicit Peer(tcp::socket s) : s_(std::move(s)) {}

  awaitable<std::string> line() {
    const std::size_t n = co_await asio::async_read_until(s_, buf_, "\r\n", use_awaitable);
    std::string l(asio::buffers_begin(buf_.data()), asio::buffers_begin(buf_.data()) + static_cast<std::ptrdiff_t>(n - 2));
    buf_.consume(n);
    co_return l;
  }
  awaitable<std::string> bytes(std::size_t n) {
    if (buf_.size() < n) co_await asio::async_read(s_, buf_, asio::transfer_exactly(n - buf_.size()), use_awaitable);
    std::string b(asio::buffers_begin(buf_.data()), asio::buffers_begin(buf_.data()) + static_cast<std::ptrdiff_t>(n));
    buf_.consume(n);
    co_return b;
  }
  awaitable<void> send(std::string_view s) { co_await asio::async_write(s_, asio::buffer(s), use_awaitable); }
  // True if the client sent nothing for `d` (used to check that it waits for `+`).
  awaitable<bool> silent_for(std::chrono::milliseconds d) {
    if (buf_.size() > 0) co_return false;
    co_await sleep_for(d);
    co_return s_.available() == 0;
  }
  tcp::socket& socket() { return s_; }
  asio::streambuf& buffer() { return buf_; }

 private:
  tcp::socket s_;
  asio::streambuf buf_;
};

std::string tag_of(const std::string& line) { return line.substr(0, line.find(' ')); }

struct Fixture {
  asio::io_context io;
  tcp::acceptor acceptor{io, {asio::ip::address_v4::loopback(), 0}};

  ClientOptions options(Security sec = Security::plain) {
    ClientOptions o;
    o.host = "127.0.0.1";
    o.port = acceptor.local_endpoint().port();
    o.security = sec;
    o.connect_timeout = 2s;
    o.tls_timeout = 300ms;
    o.greeting_timeout = 300ms;
    o.command_timeout = 300ms;
    return o;
  }

  // Runs the server script and the client script together; both must finish in time.
  void run(std::function<awaitable<void>(Peer&)> server, std::function<awaitable<void>()> client,
           std::chrono::seconds limit = 10s) {
    std::exception_ptr server_error, client_error;
    bool server_done = false, client_done = false;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          Peer p(co_await acceptor.async_accept(use_awaitable));
          co_await server(p);
          // keep the connection open until the client is done
          while (!client_done) co_await sleep_for(5ms);
        },
        [&](std::exception_ptr e) {
          server_error = e;
          server_done = true;
        });
    asio::steady_timer linger(io);
    asio::co_spawn(io, client(), [&](std::exception_ptr e) {
      client_error = e;
      client_done = true;
      // The server script has had its say once the client is through; don't wait out its sleeps.
      linger.expires_after(100ms);
      linger.async_wait([&](error_code) { io.stop(); });
    });
    io.run_for(limit);
    ASSERT_TRUE(client_done) << "client script did not finish";
    if (client_error) std::rethrow_exception(client_error);
    if (server_error && server_done) {
      try {
        std::rethrow_exception(server_error);
      } catch (const boost::system::system_error&) {
        // the client closing the connection ends the server script; that is fine
      }
    }
  }
};

constexpr std::string_view kGreeting = "* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] ready\r\n";

TEST(Client, GreetingTimeout) {
  Fixture f;
  f.run([](Peer&) -> awaitable<void> { co_await sleep_for(2s); },
        [&]() -> awaitable<void> {
          Client c(f.io.get_executor(), f.options());
          error_code ec;
          const auto t0 = std::chrono::steady_clock::now();
          co_await c.async_connect(asio::redirect_error(use_awaitable, ec));
          EXPECT_EQ(ec, make_error_code(ClientErrc::greeting_timeout));
          EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
          EXPECT_FALSE(c.connected());
        });
}

TEST(Client, TlsHandshakeTimeout) {
  Fixture f;
  f.run([](Peer&) -> awaitable<void> { co_await sleep_for(2s); },
        [&]() -> awaitable<void> {
          Client c(f.io.get_executor(), f.options(Security::implicit_tls));
          error_code ec;
          co_await c.async_connect(asio::redirect_error(use_awaitable, ec));
          EXPECT_EQ(ec, make_error_code(ClientErrc::tls_timeout));
        });
}

TEST(Client, ConnectionRefusedIsReported) {
  Fixture f;
  ClientOptions o = f.options();
  f.acceptor.close();
  asio::co_spawn(f.io, [&]() -> awaitable<void> {
    Client c(f.io.get_executor(), o);
    error_code ec;
    co_await c.async_connect(asio::redirect_error(use_awaitable, ec));
    EXPECT_EQ(ec, asio::error::connection_refused) << ec.message();
  }, asio::detached);
  f.io.run_for(5s);
}

TEST(Client, ByeGreetingIsRejected) {
  Fixture f;
  f.run([](Peer& p) -> awaitable<void> { co_await p.send("* BYE too busy\r\n"); },
        [&]() -> awaitable<void> {
          Client c(f.io.get_executor(), f.options());
          error_code ec;
          co_await c.async_connect(asio::redirect_error(use_awaitable, ec));
          EXPECT_EQ(ec, make_error_code(ClientErrc::greeting_rejected));
        });
}

TEST(Client, StartTlsRequiredButNotOffered) {
  Fixture f;
  f.run([](Peer& p) -> awaitable<void> { co_await p.send(kGreeting); },
        [&]() -> awaitable<void> {
          Client c(f.io.get_executor(), f.options(Security::starttls));
          error_code ec;
          co_await c.async_connect(asio::redirect_error(use_awaitable, ec));
          EXPECT_EQ(ec, make_error_code(ClientErrc::starttls_unsupported));
        });
}

TEST(Client, PlaintextAfterStartTlsOkIsAnAttack) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send("* OK ready\r\n");
        const std::string cap = co_await p.line();  // no caps in the greeting: the client asks
        EXPECT_NE(cap.find("CAPABILITY"), std::string::npos);
        co_await p.send("* CAPABILITY IMAP4rev1 STARTTLS\r\n" + tag_of(cap) + " OK done\r\n");
        const std::string st = co_await p.line();
        EXPECT_NE(st.find("STARTTLS"), std::string::npos);
        // A man in the middle appends a response to the OK, to be read as if it came over TLS.
        co_await p.send(tag_of(st) + " OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n");
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options(Security::starttls));
        error_code ec;
        co_await c.async_connect(asio::redirect_error(use_awaitable, ec));
        EXPECT_EQ(ec, make_error_code(ClientErrc::tls_injection));
      });
}

TEST(Client, CommandTimeoutFailsThatCommandAndClosesTheConnection) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send(kGreeting);
        co_await p.line();
        co_await p.line();
        co_await sleep_for(2s);  // never answers
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options());
        error_code closed_ec;
        c.set_closed_handler([&](error_code ec) { closed_ec = ec; });
        co_await c.async_connect(use_awaitable);
        error_code second_ec;
        bool second_done = false;
        c.async_command(ClientCommand("NOOP").timeout(5s), [&](error_code ec, CommandResult) {
          second_ec = ec;
          second_done = true;
        });
        error_code ec;
        const auto t0 = std::chrono::steady_clock::now();
        // Second on the wire but with the default 300 ms, so it times out first.
        co_await c.async_command(ClientCommand("CHECK"), asio::redirect_error(use_awaitable, ec));
        EXPECT_EQ(ec, make_error_code(ClientErrc::command_timeout));
        EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
        co_await sleep_for(20ms);
        EXPECT_TRUE(second_done);
        EXPECT_EQ(second_ec, make_error_code(ClientErrc::closed));
        EXPECT_EQ(closed_ec, make_error_code(ClientErrc::command_timeout));
        EXPECT_FALSE(c.connected());
        EXPECT_EQ(c.last_error(), make_error_code(ClientErrc::command_timeout));
      });
}

TEST(Client, SynchronisingLiteralWaitsForContinuationAndCanBeRefused) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send("* OK [CAPABILITY IMAP4rev1] no literal+\r\n");
        std::string l = co_await p.line();
        EXPECT_EQ(l.substr(l.find(' ') + 1), "APPEND box {5}");
        EXPECT_TRUE(co_await p.silent_for(100ms)) << "literal sent before the continuation";
        co_await p.send("+ go ahead\r\n");
        EXPECT_EQ(co_await p.bytes(5), "hello");
        EXPECT_EQ(co_await p.line(), " (\\Seen)");
        co_await p.send(tag_of(l) + " OK [APPENDUID 7 3] done\r\n");
        // second: refused before the continuation; the client must not send the literal
        l = co_await p.line();
        EXPECT_NE(l.find("{6}"), std::string::npos);
        co_await p.send(tag_of(l) + " NO [TOOBIG] no thanks\r\n");
        const std::string next = co_await p.line();
        EXPECT_EQ(next.substr(next.find(' ') + 1), "NOOP");
        co_await p.send(tag_of(next) + " OK noop\r\n");
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options());
        co_await c.async_connect(use_awaitable);
        auto r = co_await c.async_command(ClientCommand("APPEND box").literal("hello").raw(" (\\Seen)"), use_awaitable);
        EXPECT_TRUE(r.ok());
        EXPECT_EQ(r.code().kind, ResponseCodeKind::appenduid);
        auto refused = co_await c.async_command(ClientCommand("APPEND box").literal("secret"), use_awaitable);
        EXPECT_EQ(refused.status, ResponseStatus::no);
        EXPECT_EQ(refused.text(), "no thanks");
        auto n = co_await c.async_command(ClientCommand("NOOP"), use_awaitable);
        EXPECT_TRUE(n.ok());
      });
}

TEST(Client, LiteralPlusIsUsedWhenOffered) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send(kGreeting);
        const std::string l = co_await p.line();
        EXPECT_EQ(l.substr(l.find(' ') + 1), "LOGIN {4+}");
        EXPECT_EQ(co_await p.line(), "a\"b\\ \"p w\"");
        co_await p.send(tag_of(l) + " OK [CAPABILITY IMAP4rev1 IDLE] in\r\n");
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options());
        std::vector<std::string> trace;
        c.set_trace([&](TraceDirection, std::string_view s) { trace.emplace_back(s); });
        co_await c.async_connect(use_awaitable);
        // a user name with a quote and a backslash: not an atom, quotable -> but CR-free; the
        // password contains a space: quoted.
        auto r = co_await c.async_command(ClientCommand("LOGIN").literal("a\"b\\").string("p w").sensitive(),
                                          use_awaitable);
        EXPECT_TRUE(r.ok());
        EXPECT_TRUE(c.has_capability("idle"));
        EXPECT_FALSE(c.has_capability("LITERAL+")) << "capabilities from the LOGIN OK replace the old ones";
        for (const auto& t : trace) EXPECT_EQ(t.find("p w"), std::string::npos) << t;
      });
}

TEST(Client, LoginWithoutCapabilityCodeRefreshesCapabilities) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send(kGreeting);
        const std::string login = co_await p.line();
        co_await p.send(tag_of(login) + " OK Logged in\r\n");
        const std::string cap = co_await p.line();
        EXPECT_EQ(cap.substr(cap.find(' ') + 1), "CAPABILITY");
        co_await p.send("* CAPABILITY IMAP4rev1 QRESYNC\r\n" + tag_of(cap) + " OK done\r\n");
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options());
        co_await c.async_connect(use_awaitable);
        auto r = co_await c.async_login("u", "pw", use_awaitable);
        EXPECT_TRUE(r.ok());
        EXPECT_TRUE(c.has_capability("QRESYNC")) << "login completed before capabilities were refreshed";
      });
}

TEST(Client, AuthenticatePlainWithAndWithoutSaslIr) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
        const std::string l = co_await p.line();
        EXPECT_EQ(l.substr(l.find(' ') + 1), "AUTHENTICATE PLAIN");
        co_await p.send("+ \r\n");
        // "alice\0svc\0secret"
        EXPECT_EQ(co_await p.line(), "YWxpY2UAc3ZjAHNlY3JldA==");
        co_await p.send(tag_of(l) + " OK [CAPABILITY IMAP4rev1 SASL-IR] in\r\n");
        const std::string again = co_await p.line();
        EXPECT_EQ(again.substr(again.find(' ') + 1), "AUTHENTICATE PLAIN AHUAcA==");
        co_await p.send(tag_of(again) + " NO [AUTHENTICATIONFAILED] bad\r\n");
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options());
        std::string traced;
        c.set_trace([&](TraceDirection, std::string_view s) { traced += std::string(s) + "\n"; });
        co_await c.async_connect(use_awaitable);
        auto r = co_await c.async_authenticate_plain("svc", "secret", "alice", use_awaitable);
        EXPECT_TRUE(r.ok());
        auto n = co_await c.async_authenticate_plain("u", "p", "", use_awaitable);
        EXPECT_EQ(n.status, ResponseStatus::no);
        EXPECT_EQ(traced.find("YWxpY2UAc3ZjAHNlY3JldA"), std::string::npos) << traced;
        EXPECT_EQ(traced.find("AHUAcA"), std::string::npos) << traced;
      });
}

TEST(Client, UntaggedRouting) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send(kGreeting);
        co_await sleep_for(50ms);
        co_await p.send("* 4 EXISTS\r\n");  // nothing in flight: session handler
        const std::string a = co_await p.line();
        const std::string b = co_await p.line();
        const std::string s = co_await p.line();
        // ESEARCH names its command; the plain EXISTS goes to the oldest in flight (a)
        co_await p.send("* ESEARCH (TAG \"" + tag_of(b) + "\") UID COUNT 2\r\n* 5 EXISTS\r\n");
        co_await p.send(tag_of(b) + " OK b\r\n" + tag_of(a) + " OK a\r\n");
        co_await p.send("* 1 FETCH (UID 9 FLAGS ())\r\n* 2 FETCH (UID 10 FLAGS ())\r\n" + tag_of(s) + " OK s\r\n");
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options());
        std::vector<std::string> session;
        c.set_untagged_handler([&](const Response& r) { session.emplace_back(r.raw); });
        co_await c.async_connect(use_awaitable);
        co_await sleep_for(100ms);
        CO_REQUIRE(session.size() == 1u);
        EXPECT_EQ(session[0], "* 4 EXISTS\r\n");
        CommandResult ra, rb;
        int done = 0;
        c.async_command(ClientCommand("NOOP"), [&](error_code, CommandResult r) {
          ra = std::move(r);
          ++done;
        });
        c.async_command(ClientCommand("UID SEARCH RETURN (COUNT) ALL"), [&](error_code, CommandResult r) {
          rb = std::move(r);
          ++done;
        });
        std::vector<std::uint32_t> streamed;
        auto rs = co_await c.async_command(ClientCommand("FETCH 1:2 (UID FLAGS)").on_untagged([&](const Response& r) {
          streamed.push_back(*r.fetch.uid());
        }),
                                           use_awaitable);
        EXPECT_EQ(done, 2);
        EXPECT_TRUE(rs.untagged.empty());
        EXPECT_EQ(streamed, (std::vector<std::uint32_t>{9, 10}));
        CO_REQUIRE(rb.untagged.size() == 1u);
        EXPECT_EQ(rb.untagged[0]->esearch.count, 2u);
        CO_REQUIRE(ra.untagged.size() == 1u);
        EXPECT_EQ(ra.untagged[0]->untagged, UntaggedKind::exists);
        EXPECT_EQ(session.size(), 1u);
      });
}

TEST(Client, MalformedResponsesAreContained) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send(kGreeting);
        const std::string a = co_await p.line();
        // a broken untagged response is dropped, a broken tagged one fails its command only
        co_await p.send("* 1 FETCH (UID x)\r\n" + tag_of(a) + " OK [UIDNEXT zz] hm\r\n");
        const std::string b = co_await p.line();
        co_await p.send("ZZZ OK who am I\r\n+ stray\r\n" + tag_of(b) + " OK fine\r\n");
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options());
        co_await c.async_connect(use_awaitable);
        error_code ec;
        auto r = co_await c.async_command(ClientCommand("FETCH 1 UID"), asio::redirect_error(use_awaitable, ec));
        EXPECT_EQ(ec, make_error_code(ClientErrc::protocol_error));
        EXPECT_TRUE(r.untagged.empty());
        auto ok = co_await c.async_command(ClientCommand("NOOP"), use_awaitable);
        EXPECT_TRUE(ok.ok());
        EXPECT_EQ(c.malformed_responses(), 4u);
        EXPECT_TRUE(c.connected());
      });
}

TEST(Client, IdleLifecycle) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send(kGreeting);
        std::string l = co_await p.line();
        EXPECT_EQ(l.substr(l.find(' ') + 1), "IDLE");
        co_await p.send(tag_of(l) + " NO [LIMIT] not now\r\n");
        l = co_await p.line();
        co_await p.send("+ idling\r\n");
        co_await p.send("* 3 EXISTS\r\n* 1 EXPUNGE\r\n");
        EXPECT_EQ(co_await p.line(), "DONE");
        co_await p.send(tag_of(l) + " OK Idle completed\r\n");
        // third: DONE requested before the continuation arrives
        l = co_await p.line();
        co_await sleep_for(50ms);
        co_await p.send("+ idling\r\n");
        EXPECT_EQ(co_await p.line(), "DONE");
        co_await p.send(tag_of(l) + " OK done\r\n");
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options());
        co_await c.async_connect(use_awaitable);
        error_code ec;
        co_await c.async_idle([](const Response&) {}, asio::redirect_error(use_awaitable, ec));
        EXPECT_EQ(ec, make_error_code(ClientErrc::idle_rejected));
        std::vector<UntaggedKind> seen;
        co_await c.async_idle([&](const Response& r) { seen.push_back(r.untagged); }, use_awaitable);
        EXPECT_TRUE(c.idling());
        while (seen.size() < 2) co_await sleep_for(5ms);
        EXPECT_EQ(seen, (std::vector<UntaggedKind>{UntaggedKind::exists, UntaggedKind::expunge}));
        auto done = co_await c.async_idle_done(use_awaitable);
        EXPECT_TRUE(done.ok());
        EXPECT_FALSE(c.idling());
        error_code e2;
        co_await c.async_idle_done(asio::redirect_error(use_awaitable, e2));
        EXPECT_EQ(e2, make_error_code(ClientErrc::not_idling));
        bool started = false;
        c.async_idle([](const Response&) {}, [&](error_code e) {
          EXPECT_FALSE(e);
          started = true;
        });
        auto d3 = co_await c.async_idle_done(use_awaitable);
        EXPECT_TRUE(started);
        EXPECT_TRUE(d3.ok());
      });
}

TEST(Client, CompressedStreamIncludingDataRightBehindTheOk) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send("* OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] ready\r\n");
        const std::string z = co_await p.line();
        EXPECT_EQ(z.substr(z.find(' ') + 1), "COMPRESS DEFLATE");
        DeflateWriter out;
        InflateReader in;
        std::string compressed;
        // The first compressed bytes travel in the same packet as the OK.
        EXPECT_TRUE(out.write("* 7 EXISTS\r\n", compressed));
        co_await p.send(tag_of(z) + " OK Begin compression.\r\n" + compressed);
        // The client's next command arrives compressed.
        std::string plain;
        std::array<char, 4096> tmp{};
        while (plain.find("\r\n") == std::string::npos) {
          std::array<char, 512> raw{};
          const std::size_t n = co_await p.socket().async_read_some(asio::buffer(raw), use_awaitable);
          in.set_input({raw.data(), n});
          do {
            const std::size_t got = in.read(tmp);
            plain.append(tmp.data(), got);
          } while (in.has_input());
        }
        EXPECT_EQ(plain.substr(plain.find(' ') + 1), "NOOP\r\n");
        compressed.clear();
        std::string big = "* 1 FETCH (BODY[] {200000}\r\n" + std::string(200000, 'z') + ")\r\n";
        EXPECT_TRUE(out.write(big + tag_of(plain) + " OK noop\r\n", compressed));
        co_await p.send(compressed);
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options());
        std::vector<std::string> session;
        c.set_untagged_handler([&](const Response& r) { session.emplace_back(r.raw.substr(0, 12)); });
        co_await c.async_connect(use_awaitable);
        auto r = co_await c.async_compress(use_awaitable);
        EXPECT_TRUE(r.ok());
        EXPECT_TRUE(c.compression_active());
        auto n = co_await c.async_command(ClientCommand("NOOP"), use_awaitable);
        EXPECT_TRUE(n.ok());
        EXPECT_EQ(session, (std::vector<std::string>{"* 7 EXISTS\r\n"}));
        CO_REQUIRE(n.untagged.size() == 1u);
        EXPECT_EQ(n.untagged[0]->fetch.find_section("")->string.str.size(), 200000u);
      });
}

TEST(Client, CloseAbortsPendingOperations) {
  Fixture f;
  f.run(
      [](Peer& p) -> awaitable<void> {
        co_await p.send(kGreeting);
        co_await sleep_for(1s);
      },
      [&]() -> awaitable<void> {
        Client c(f.io.get_executor(), f.options());
        error_code early;
        co_await c.async_command(ClientCommand("NOOP"), asio::redirect_error(use_awaitable, early));
        EXPECT_EQ(early, make_error_code(ClientErrc::not_connected));
        co_await c.async_connect(use_awaitable);
        error_code ec;
        bool done = false;
        c.async_command(ClientCommand("NOOP").timeout(10s), [&](error_code e, CommandResult) {
          ec = e;
          done = true;
        });
        c.close();
        co_await sleep_for(20ms);
        EXPECT_TRUE(done);
        EXPECT_EQ(ec, asio::error::operation_aborted);
        error_code invalid;
        co_await c.async_command(ClientCommand("NOOP\r\nA1 LOGOUT"), asio::redirect_error(use_awaitable, invalid));
        EXPECT_EQ(invalid, make_error_code(ClientErrc::closed));
      });
}

TEST(Client, CommandTextWithLineBreaksIsRefused) {
  Fixture f;
  f.run([](Peer& p) -> awaitable<void> { co_await p.send(kGreeting); },
        [&]() -> awaitable<void> {
          Client c(f.io.get_executor(), f.options());
          co_await c.async_connect(use_awaitable);
          error_code ec;
          co_await c.async_command(ClientCommand("NOOP\r\nA1 LOGOUT"), asio::redirect_error(use_awaitable, ec));
          EXPECT_EQ(ec, make_error_code(ClientErrc::invalid_command));
          EXPECT_TRUE(c.connected());
        });
}

TEST(ClientCommand, Serialisation) {
  ClientCommand c("APPEND");
  c.astring("INBOX").astring("has space").arg("(\\Seen)").literal("abc").string("x\xc3\xa4");
  auto sync = serialize_command(c, "A1", LiteralMode::sync);
  ASSERT_EQ(sync.size(), 3u);
  EXPECT_EQ(sync[0].bytes, "A1 APPEND INBOX \"has space\" (\\Seen) {3}\r\n");
  EXPECT_TRUE(sync[0].wait_for_continuation);
  EXPECT_EQ(sync[1].bytes, "abc {3}\r\n");
  EXPECT_EQ(sync[2].bytes, "x\xc3\xa4\r\n");
  EXPECT_FALSE(sync[2].wait_for_continuation);
  auto plus = serialize_command(c, "A1", LiteralMode::plus);
  ASSERT_EQ(plus.size(), 1u);
  EXPECT_EQ(plus[0].bytes, "A1 APPEND INBOX \"has space\" (\\Seen) {3+}\r\nabc {3+}\r\nx\xc3\xa4\r\n");
  ClientCommand big("APPEND x");
  big.literal(std::string(5000, 'b'));
  auto minus = serialize_command(big, "A2", LiteralMode::minus);
  EXPECT_EQ(minus.size(), 2u) << "LITERAL- allows non-synchronising literals up to 4096 bytes only";
  EXPECT_EQ(trace_command(c, "A1"), "A1 APPEND INBOX \"has space\" (\\Seen) {3 bytes} {3 bytes}");
  EXPECT_EQ(trace_command(ClientCommand("LOGIN").astring("u").astring("pw").sensitive(), "A3"), "A3 LOGIN <redacted>");
  EXPECT_EQ(ClientCommand("UID FETCH 1 (FLAGS)").verb(), "UID FETCH");
  EXPECT_FALSE(ClientCommand("NOOP\n").valid());
  EXPECT_TRUE(ClientCommand("X").continuation("abc").valid());
  EXPECT_FALSE(ClientCommand("X").continuation("a\r\nb").valid());
  EXPECT_TRUE(is_imap_atom("INBOX"));
  EXPECT_FALSE(is_imap_atom("a b"));
  EXPECT_FALSE(is_imap_atom(""));
  EXPECT_FALSE(is_imap_atom("a*"));
  EXPECT_TRUE(is_imap_quotable("a \"b\""));
  EXPECT_FALSE(is_imap_quotable("a\nb"));
}

TEST(ClientDeflate, RoundTripInSmallPieces) {
  DeflateWriter w;
  InflateReader r;
  std::string wire;
  std::string expect;
  for (int i = 0; i < 200; ++i) {
    const std::string chunk = "* " + std::to_string(i) + " FETCH (UID " + std::to_string(i * 7) + ")\r\n";
    expect += chunk;
    ASSERT_TRUE(w.write(chunk, wire));
  }
  std::string out;
  std::array<char, 7> small{};
  for (std::size_t i = 0; i < wire.size(); i += 13) {
    const std::string_view piece = std::string_view(wire).substr(i, 13);
    r.set_input(piece);
    for (;;) {
      const std::size_t n = r.read(small);
      out.append(small.data(), n);
      if (n < small.size() && !r.has_input()) break;
    }
    ASSERT_FALSE(r.failed());
  }
  EXPECT_EQ(out, expect);
  InflateReader bad;
  bad.set_input("\xff\xff\xff\xff garbage");
  std::array<char, 64> sink{};
  bad.read(sink);
  EXPECT_TRUE(bad.failed());
}

}  // namespace
}  // namespace pimap::imap
