// StorePool / StoreSession against the stack's real Dovecot: password checks, proxied commands, the
// backend connection closed after park() and reopened, and the device's sequence numbers kept right
// across it (EXPUNGE / VANISHED / EXISTS before the command's own responses); store outages answer
// as unavailable within the connect timeout.
//
// Needs PIMAP_STACK_JSON = path of the stack.json that `scripts/stack up` writes; skipped when unset.
//
//   scripts/stack up --dir /tmp/s && PIMAP_STACK_JSON=/tmp/s/stack.json edge_store_integration_tests

#include "store_connection.hpp"
#include "store_pool.hpp"
#include "store_session.hpp"

#include <pimap/deviceview/device_view.hpp>
#include <pimap/kit/log.hpp>
#include <pimap/testing/local_stack.hpp>
#include <pimap/kit/metrics.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace pimap::edge {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

using User = pimap::testing::StackUser;

const pimap::testing::LocalStack* stack() { return pimap::testing::local_stack(); }
std::string token() { return pimap::testing::random_token(); }

#define REQUIRE_STACK() PIMAP_REQUIRE_STACK()

struct Exec {
  bool done = false;
  StoreResult result;
  std::vector<std::string> untagged;
};

// A device's idea of the selected mailbox, by sequence number: 0 for a message it knows only by count.
// Applies what the proxy forwards and checks every FETCH against it.
class DeviceModel {
 public:
  explicit DeviceModel(std::vector<std::uint32_t> uids) : seq_(std::move(uids)) {}

  // Returns an error text, or empty when every line was consistent.
  std::string apply(const std::vector<std::string>& lines) {
    static const std::regex expunge(R"(^\* (\d+) EXPUNGE\r\n$)");
    static const std::regex exists(R"(^\* (\d+) EXISTS\r\n$)");
    static const std::regex fetch(R"(^\* (\d+) FETCH \(.*UID (\d+).*\)\r\n$)");
    static const std::regex vanished(R"(^\* VANISHED (\d+(?:[:,]\d+)*)\r\n$)");
    for (const auto& l : lines) {
      std::smatch m;
      if (std::regex_match(l, m, expunge)) {
        const auto n = std::stoul(m[1]);
        if (n < 1 || n > seq_.size()) return "EXPUNGE out of range: " + l;
        seq_.erase(seq_.begin() + static_cast<std::ptrdiff_t>(n - 1));
      } else if (std::regex_match(l, m, exists)) {
        const auto n = std::stoul(m[1]);
        if (n < seq_.size()) return "EXISTS shrinks: " + l;
        seq_.resize(n, 0);
      } else if (std::regex_match(l, m, vanished)) {
        const MailboxView gone = MailboxView::from_set(imap::NumberSet(m[1].str()));
        std::erase_if(seq_, [&](std::uint32_t u) { return gone.contains(u); });
      } else if (std::regex_match(l, m, fetch)) {
        const auto n = std::stoul(m[1]);
        const auto uid = static_cast<std::uint32_t>(std::stoul(m[2]));
        if (n < 1 || n > seq_.size()) return "FETCH out of range: " + l;
        if (seq_[n - 1] != 0 && seq_[n - 1] != uid) {
          return "FETCH " + std::to_string(n) + " has UID " + std::to_string(uid) + ", device expects " +
                 std::to_string(seq_[n - 1]);
        }
        seq_[n - 1] = uid;
      }
    }
    return {};
  }
  const std::vector<std::uint32_t>& uids() const { return seq_; }

 private:
  std::vector<std::uint32_t> seq_;
};

class StorePoolIT : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!stack()) return;
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<kit::Metrics>("edge", registry_);
  }

  StorePoolOptions options() const {
    StorePoolOptions o;
    o.host = stack()->imaps.host;
    o.port = stack()->imaps.port;
    o.server_name = "localhost";
    o.ca_file = stack()->ca_cert;
    o.master_user = stack()->master_user;
    o.master_password = stack()->master_password;
    o.connect_timeout = 5s;
    o.command_timeout = 5s;
    o.idle_timeout = 300ms;
    return o;
  }

  std::unique_ptr<StorePool> pool(const StorePoolOptions& o) {
    return std::make_unique<StorePool>(o, *metrics_, log_);
  }

  // Runs the io_context until `pred` holds; false after `limit`.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.restart();
      io_.run_for(20ms);
    }
    return true;
  }

  void pause(std::chrono::milliseconds d) {
    asio::steady_timer t(io_, d);
    bool fired = false;
    t.async_wait([&](boost::system::error_code) { fired = true; });
    run_until([&] { return fired; }, d + 5s);
  }

  StoreGateway::LoginResult login(StoreGateway& gw, const std::string& user, const std::string& password) {
    StoreGateway::LoginResult out;
    bool done = false;
    gw.login(io_.get_executor(), user, password, "127.0.0.9", [&](StoreGateway::LoginResult r) {
      out = std::move(r);
      done = true;
    });
    EXPECT_TRUE(run_until([&] { return done; }));
    return out;
  }

  Exec exec(StoreSession& s, const std::string& command) {
    Exec e;
    s.execute(
        command, [&](std::string_view raw) { e.untagged.emplace_back(raw); },
        [&](StoreResult r) {
          e.result = std::move(r);
          e.done = true;
        });
    EXPECT_TRUE(run_until([&] { return e.done; })) << command;
    return e;
  }

  // A second, direct connection to the store as `user*master`: the "other client" changing the mailbox.
  std::shared_ptr<StoreConnection> direct(const std::string& user) {
    auto ep = std::make_shared<StoreEndpoint>();
    ep->host = stack()->imaps.host;
    ep->port = stack()->imaps.port;
    ep->tls = std::make_shared<const net::TlsContext>(net::TlsContext::client({.ca_file = stack()->ca_cert}));
    auto c = StoreConnection::create(io_.get_executor(), ep);
    StoreReply r;
    bool done = false;
    c->open([&](StoreReply g) {
      r = std::move(g);
      done = true;
    });
    EXPECT_TRUE(run_until([&] { return done; }));
    EXPECT_EQ(r.status, StoreStatus::ok) << r.text;
    EXPECT_EQ(direct_cmd(c, "LOGIN \"" + user + "*" + stack()->master_user + "\" \"" + stack()->master_password + "\"\r\n")
                  .status,
              StoreStatus::ok);
    return c;
  }

  StoreReply direct_cmd(const std::shared_ptr<StoreConnection>& c, const std::string& command,
                        std::vector<std::string>* untagged = nullptr) {
    StoreReply r;
    bool done = false;
    c->command(
        command,
        [&](const imap::Response& u) {
          if (untagged) untagged->emplace_back(u.raw);
        },
        [&](StoreReply reply) {
          r = std::move(reply);
          done = true;
        });
    EXPECT_TRUE(run_until([&] { return done; })) << command;
    return r;
  }

  void append(const std::shared_ptr<StoreConnection>& c, const std::string& mailbox, const std::string& subject) {
    const std::string msg = "From: a@example.test\r\nSubject: " + subject + "\r\n\r\nbody\r\n";
    EXPECT_EQ(direct_cmd(c, "APPEND " + mailbox + " {" + std::to_string(msg.size()) + "+}\r\n" + msg + "\r\n").status,
              StoreStatus::ok);
  }

  // A fresh mailbox with `n` messages (UIDs 1..n) for `user`.
  std::string make_mailbox(const std::shared_ptr<StoreConnection>& c, int n) {
    const std::string name = "itest-" + token();
    EXPECT_EQ(direct_cmd(c, "CREATE " + name + "\r\n").status, StoreStatus::ok);
    for (int i = 1; i <= n; ++i) append(c, name, "m" + std::to_string(i));
    return name;
  }

  void expunge_uids(const std::shared_ptr<StoreConnection>& c, const std::string& mailbox, const std::string& uids) {
    EXPECT_EQ(direct_cmd(c, "SELECT " + mailbox + "\r\n").status, StoreStatus::ok);
    EXPECT_EQ(direct_cmd(c, "UID STORE " + uids + " +FLAGS.SILENT (\\Deleted)\r\n").status, StoreStatus::ok);
    EXPECT_EQ(direct_cmd(c, "UID EXPUNGE " + uids + "\r\n").status, StoreStatus::ok);
    EXPECT_EQ(direct_cmd(c, "UNSELECT\r\n").status, StoreStatus::ok);
  }

  double gauge(const std::string& name) {
    const std::string text = metrics_->render();
    const auto pos = text.find("\n" + name + " ");
    if (pos == std::string::npos) return -1;
    return std::stod(text.substr(pos + name.size() + 2));
  }

  double commands(const std::string& result) {
    const std::string text = metrics_->render();
    const std::string key = "pimap_edge_backend_commands_total{result=\"" + result + "\"} ";
    const auto pos = text.find(key);
    return pos == std::string::npos ? -1 : std::stod(text.substr(pos + key.size()));
  }

  static std::shared_ptr<PooledStoreSession> pooled(const std::shared_ptr<StoreSession>& s) {
    return std::dynamic_pointer_cast<PooledStoreSession>(s);
  }

  // user48 logged in through a pool whose parked connections stay (the view is read off them, not off
  // a retired one), with a fresh mailbox of `messages` messages that `other` (a direct session) changes.
  struct Parked {
    std::unique_ptr<StorePool> gw;
    std::shared_ptr<StoreConnection> other;
    std::string box;
    std::shared_ptr<StoreSession> session;
  };
  void logged_in_with_mailbox(int messages, Parked& out) {
    auto o = options();
    o.idle_timeout = 30s;
    out.gw = pool(o);
    const User& u = stack()->users.at(47);  // user48
    out.other = direct(u.name);
    out.box = make_mailbox(out.other, messages);
    auto r = login(*out.gw, u.name, u.password);
    ASSERT_EQ(r.status, StoreStatus::ok) << r.text;
    out.session = r.session;
  }

  // Declared before io_: backend connections still held by io_'s handlers release their gauge
  // when io_ is destroyed, so the registry must outlive it.
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<kit::Metrics> metrics_;
  kit::Logger log_{"edge", kit::Level::warn};
  asio::io_context io_;
};

std::vector<std::string> only(const std::vector<std::string>& lines, const std::string& word) {
  std::vector<std::string> out;
  for (const auto& l : lines) {
    if (l.find(word) != std::string::npos) out.push_back(l);
  }
  return out;
}

TEST_F(StorePoolIT, LoginChecksThePasswordAgainstTheStore) {
  REQUIRE_STACK();
  auto gw = pool(options());
  const User& u = stack()->users.at(40);

  auto ok = login(*gw, u.name, u.password);
  ASSERT_EQ(ok.status, StoreStatus::ok) << ok.text;
  ASSERT_TRUE(ok.session);
  const auto caps = ok.session->capabilities();
  EXPECT_NE(std::find(caps.begin(), caps.end(), "IMAP4REV1"), caps.end());
  EXPECT_NE(std::find(caps.begin(), caps.end(), "LITERAL+"), caps.end());
  EXPECT_TRUE(pooled(ok.session)->connected()) << "the login connection is kept as the first pooled one";
  EXPECT_EQ(gauge("pimap_edge_backend_connections"), 1);

  // The login connection serves commands right away (as the user, no reconnect).
  const auto list = exec(*ok.session, "LIST \"\" INBOX\r\n");
  EXPECT_EQ(list.result.status, StoreStatus::ok) << list.result.text;
  EXPECT_EQ(only(list.untagged, "LIST").size(), 1u);

  const auto start = std::chrono::steady_clock::now();
  auto bad = login(*gw, u.name, "not-" + u.password);
  EXPECT_EQ(bad.status, StoreStatus::no) << bad.text;
  EXPECT_FALSE(bad.session);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);

  ok.session->close();
  EXPECT_TRUE(run_until([&] { return gauge("pimap_edge_backend_connections") == 0; }, 5s))
      << "backend sockets close after close()";
  EXPECT_GE(commands("ok"), 2);
  EXPECT_GE(commands("no"), 1);
}

TEST_F(StorePoolIT, ReopenAfterParkKeepsSequenceNumbersRight) {
  REQUIRE_STACK();
  auto gw = pool(options());
  const User& u = stack()->users.at(41);
  auto other = direct(u.name);
  const std::string mbox = make_mailbox(other, 5);

  auto r = login(*gw, u.name, u.password);
  ASSERT_EQ(r.status, StoreStatus::ok);
  auto& s = *r.session;

  const auto sel = exec(s, "SELECT " + mbox + "\r\n");
  ASSERT_EQ(sel.result.status, StoreStatus::ok) << sel.result.text;
  EXPECT_TRUE(sel.result.text.starts_with("OK [READ-WRITE]")) << sel.result.text;
  EXPECT_EQ(only(sel.untagged, "EXISTS"), std::vector<std::string>{"* 5 EXISTS\r\n"});
  DeviceModel device({0, 0, 0, 0, 0});
  const auto f1 = exec(s, "FETCH 1:* (UID FLAGS)\r\n");
  ASSERT_EQ(f1.result.status, StoreStatus::ok);
  EXPECT_EQ(only(f1.untagged, "FETCH").size(), 5u);
  EXPECT_EQ(device.apply(f1.untagged), "");
  EXPECT_EQ(device.uids(), (std::vector<std::uint32_t>{1, 2, 3, 4, 5}));

  // IDLE: the backend connection goes after the idle time.
  s.park();
  EXPECT_TRUE(run_until([&] { return !pooled(r.session)->connected(); }, 3s));
  EXPECT_TRUE(run_until([&] { return gauge("pimap_edge_backend_connections") == 0; }, 3s))
      << "the parked connection was closed";

  // Meanwhile another client expunges 2 and 4 and delivers one.
  expunge_uids(other, mbox, "2,4");
  append(other, mbox, "new");

  const auto f2 = exec(s, "FETCH 1:* (UID)\r\n");
  ASSERT_EQ(f2.result.status, StoreStatus::ok) << f2.result.text;
  EXPECT_TRUE(f2.result.text.starts_with("OK Fetch completed")) << f2.result.text;
  ASSERT_GE(f2.untagged.size(), 3u);
  EXPECT_EQ(f2.untagged[0], "* 4 EXPUNGE\r\n");
  EXPECT_EQ(f2.untagged[1], "* 2 EXPUNGE\r\n");
  EXPECT_EQ(f2.untagged[2], "* 4 EXISTS\r\n");
  EXPECT_EQ(only(f2.untagged, "SEARCH").size(), 0u) << "the session's own commands stay hidden";
  EXPECT_EQ(device.apply(f2.untagged), "");
  EXPECT_EQ(device.uids(), (std::vector<std::uint32_t>{1, 3, 5, 6}));
  EXPECT_TRUE(pooled(r.session)->connected());

  // Still selected on the new connection: a STORE by sequence number hits the right message.
  const auto st = exec(s, "STORE 2 +FLAGS (\\Flagged)\r\n");
  ASSERT_EQ(st.result.status, StoreStatus::ok) << st.result.text;
  std::vector<std::string> check;
  EXPECT_EQ(direct_cmd(other, "EXAMINE " + mbox + "\r\n").status, StoreStatus::ok);
  EXPECT_EQ(direct_cmd(other, "UID FETCH 3 (FLAGS)\r\n", &check).status, StoreStatus::ok);
  ASSERT_EQ(check.size(), 1u);
  EXPECT_NE(check[0].find("\\Flagged"), std::string::npos) << check[0];

  s.close();
  direct_cmd(other, "DELETE " + mbox + "\r\n");
}

TEST_F(StorePoolIT, QresyncDeviceGetsVanishedAndKeepsQresyncOnTheNewConnection) {
  REQUIRE_STACK();
  auto gw = pool(options());
  const User& u = stack()->users.at(42);
  auto other = direct(u.name);
  const std::string mbox = make_mailbox(other, 4);

  auto r = login(*gw, u.name, u.password);
  ASSERT_EQ(r.status, StoreStatus::ok);
  auto& s = *r.session;
  const auto en = exec(s, "ENABLE QRESYNC\r\n");
  ASSERT_EQ(en.result.status, StoreStatus::ok);
  EXPECT_EQ(only(en.untagged, "ENABLED").size(), 1u);
  ASSERT_EQ(exec(s, "SELECT " + mbox + "\r\n").result.status, StoreStatus::ok);
  DeviceModel device({1, 2, 3, 4});

  s.park();
  EXPECT_TRUE(run_until([&] { return !pooled(r.session)->connected(); }, 3s));
  expunge_uids(other, mbox, "1,3");

  const auto f = exec(s, "UID FETCH 1:* (FLAGS)\r\n");
  ASSERT_EQ(f.result.status, StoreStatus::ok) << f.result.text;
  ASSERT_FALSE(f.untagged.empty());
  EXPECT_EQ(f.untagged[0], "* VANISHED 1,3\r\n");
  EXPECT_TRUE(only(f.untagged, "EXPUNGE").empty());
  EXPECT_EQ(device.apply(f.untagged), "");
  EXPECT_EQ(device.uids(), (std::vector<std::uint32_t>{2, 4}));

  // The new backend connection has QRESYNC enabled again: the store itself reports VANISHED now.
  expunge_uids(other, mbox, "2");
  const auto noop = exec(s, "NOOP\r\n");
  ASSERT_EQ(noop.result.status, StoreStatus::ok);
  EXPECT_EQ(only(noop.untagged, "VANISHED"), std::vector<std::string>{"* VANISHED 2\r\n"});
  EXPECT_TRUE(only(noop.untagged, "EXPUNGE").empty());

  s.close();
  direct_cmd(other, "DELETE " + mbox + "\r\n");
}

TEST_F(StorePoolIT, ChangesTheEdgeAlreadyReportedAreNotRepeated) {
  REQUIRE_STACK();
  const User& u = stack()->users.at(43);
  auto other = direct(u.name);
  const std::string mbox = make_mailbox(other, 3);

  auto o = options();
  o.idle_timeout = 30s;  // the parked connection is still there when the device comes back
  auto gw_long = pool(o);
  auto r = login(*gw_long, u.name, u.password);
  ASSERT_EQ(r.status, StoreStatus::ok);
  auto& s = *r.session;
  ASSERT_EQ(exec(s, "SELECT " + mbox + "\r\n").result.status, StoreStatus::ok);
  DeviceModel device({1, 2, 3});

  s.park();
  // During IDLE the push pipeline tells the device: uid 1 expunged, uid 4 arrived.
  expunge_uids(other, mbox, "1");
  append(other, mbox, "pushed");
  EXPECT_EQ(device.apply({"* 1 EXPUNGE\r\n", "* 3 EXISTS\r\n"}), "");
  s.view_removed(1);
  s.view_added(4);
  EXPECT_TRUE(pooled(r.session)->connected());

  const auto f = exec(s, "FETCH 1:* (UID)\r\n");
  ASSERT_EQ(f.result.status, StoreStatus::ok) << f.result.text;
  EXPECT_TRUE(only(f.untagged, "EXPUNGE").empty()) << "the device already knows";
  EXPECT_TRUE(only(f.untagged, "EXISTS").empty()) << "the device already knows";
  EXPECT_EQ(only(f.untagged, "FETCH").size(), 3u);
  EXPECT_EQ(device.apply(f.untagged), "");
  EXPECT_EQ(device.uids(), (std::vector<std::uint32_t>{2, 3, 4}));

  s.close();
  direct_cmd(other, "DELETE " + mbox + "\r\n");
}

TEST_F(StorePoolIT, ParkedConnectionIsReusedWithinTheIdleTime) {
  REQUIRE_STACK();
  auto o = options();
  o.idle_timeout = 30s;
  auto gw = pool(o);
  const User& u = stack()->users.at(44);
  auto other = direct(u.name);
  const std::string mbox = make_mailbox(other, 2);

  auto r = login(*gw, u.name, u.password);
  ASSERT_EQ(r.status, StoreStatus::ok);
  auto& s = *r.session;
  ASSERT_EQ(exec(s, "SELECT " + mbox + "\r\n").result.status, StoreStatus::ok);
  const double connects_before = gauge("pimap_edge_backend_connections");
  s.park();
  pause(300ms);
  EXPECT_TRUE(pooled(r.session)->connected());
  expunge_uids(other, mbox, "1");
  append(other, mbox, "third");

  // Same connection: the store reports the changes itself, once.
  const auto n = exec(s, "NOOP\r\n");
  ASSERT_EQ(n.result.status, StoreStatus::ok);
  EXPECT_EQ(only(n.untagged, "EXPUNGE"), std::vector<std::string>{"* 1 EXPUNGE\r\n"});
  EXPECT_EQ(only(n.untagged, "EXISTS"), std::vector<std::string>{"* 2 EXISTS\r\n"});
  EXPECT_EQ(gauge("pimap_edge_backend_connections"), connects_before);

  s.close();
  direct_cmd(other, "DELETE " + mbox + "\r\n");
}

TEST_F(StorePoolIT, ReopenInAuthenticatedStateRestoresNothingAndWorks) {
  REQUIRE_STACK();
  auto gw = pool(options());
  const User& u = stack()->users.at(45);
  auto r = login(*gw, u.name, u.password);
  ASSERT_EQ(r.status, StoreStatus::ok);
  r.session->park();
  EXPECT_TRUE(run_until([&] { return !pooled(r.session)->connected(); }, 3s));
  const auto st = exec(*r.session, "STATUS INBOX (MESSAGES)\r\n");
  EXPECT_EQ(st.result.status, StoreStatus::ok) << st.result.text;
  ASSERT_EQ(st.untagged.size(), 1u);
  EXPECT_TRUE(st.untagged[0].starts_with("* STATUS INBOX")) << st.untagged[0];
  // The store's own verdicts pass through unchanged.
  const auto bad = exec(*r.session, "FETCH 1 (UID)\r\n");
  EXPECT_EQ(bad.result.status, StoreStatus::bad) << bad.result.text;
  const auto no = exec(*r.session, "SELECT no-such-mailbox-" + token() + "\r\n");
  EXPECT_EQ(no.result.status, StoreStatus::no) << no.result.text;
  r.session->close();
}

TEST_F(StorePoolIT, RefusedPortIsUnavailableAtOnce) {
  REQUIRE_STACK();
  // A port nobody listens on: bind, note, close.
  std::uint16_t port = 0;
  {
    asio::ip::tcp::acceptor a(io_, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto o = options();
  o.port = port;
  o.connect_timeout = 1s;
  auto gw = pool(o);
  const auto start = std::chrono::steady_clock::now();
  auto r = login(*gw, stack()->users.at(46).name, stack()->users.at(46).password);
  EXPECT_EQ(r.status, StoreStatus::unavailable);
  EXPECT_FALSE(r.session);
  EXPECT_FALSE(r.text.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST_F(StorePoolIT, SilentStoreIsUnavailableAfterTheConnectTimeout) {
  REQUIRE_STACK();
  // Accepts TCP and then says nothing, like a hung store.
  asio::ip::tcp::acceptor a(io_, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket held(io_);
  a.async_accept(held, [](boost::system::error_code) {});
  auto o = options();
  o.port = a.local_endpoint().port();
  o.connect_timeout = 700ms;
  auto gw = pool(o);
  const auto start = std::chrono::steady_clock::now();
  auto r = login(*gw, stack()->users.at(46).name, stack()->users.at(46).password);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, StoreStatus::unavailable) << r.text;
  EXPECT_GE(took, 600ms);
  EXPECT_LT(took, 2s);
}

TEST_F(StorePoolIT, WrongCertificateNameIsUnavailable) {
  REQUIRE_STACK();
  auto o = options();
  o.server_name = "mail.example.org";
  auto gw = pool(o);
  auto r = login(*gw, stack()->users.at(46).name, stack()->users.at(46).password);
  EXPECT_EQ(r.status, StoreStatus::unavailable);
  EXPECT_NE(r.text.find("TLS"), std::string::npos) << r.text;
}

TEST_F(StorePoolIT, StoreGoneWhileParkedAnswersUnavailablePromptly) {
  REQUIRE_STACK();
  // A session whose backend connection was closed and whose store then became unreachable: the next
  // command fails as unavailable within the connect timeout instead of hanging.
  auto o = options();
  auto gw = pool(o);
  const User& u = stack()->users.at(47);
  auto r = login(*gw, u.name, u.password);
  ASSERT_EQ(r.status, StoreStatus::ok);
  ASSERT_EQ(exec(*r.session, "SELECT INBOX\r\n").result.status, StoreStatus::ok);

  // Same session logic, but against an endpoint that refuses: a second pool whose store is down.
  std::uint16_t port = 0;
  {
    asio::ip::tcp::acceptor a(io_, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto down = std::make_shared<StoreBackend>();
  auto ep = std::make_shared<StoreEndpoint>();
  ep->host = "127.0.0.1";
  ep->port = port;
  ep->tls = std::make_shared<const net::TlsContext>(net::TlsContext::client({.ca_file = stack()->ca_cert}));
  ep->connect_timeout = 1s;
  down->endpoint = ep;
  down->master_user = stack()->master_user;
  down->master_password = stack()->master_password;
  down->idle_timeout = 100ms;
  down->log = std::make_shared<const kit::Logger>(log_);
  auto session = std::make_shared<PooledStoreSession>(io_.get_executor(), down, u.name);
  const auto start = std::chrono::steady_clock::now();
  const auto e = exec(*session, "NOOP\r\n");
  EXPECT_EQ(e.result.status, StoreStatus::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  session->close();
  r.session->close();
}

}  // namespace
}  // namespace pimap::edge

// --- in-band events: the device's view while parked in IDLE ---------------------------------------

namespace pimap::edge {
namespace {

TEST_F(StorePoolIT, ParkForEventsKnowsTheDeviceViewAndChangesTheEdgeToldAreNotRepeated) {
  REQUIRE_STACK();
  Parked p;
  ASSERT_NO_FATAL_FAILURE(logged_in_with_mailbox(3, p));
  auto& s = *p.session;
  const auto& other = p.other;
  const std::string& box = p.box;
  ASSERT_EQ(exec(s, "SELECT " + box + "\r\n").result.status, StoreStatus::ok);
  EXPECT_EQ(s.parked_view(), nullptr) << "no view while a command could change it";

  bool ready = false;
  s.park_for_events([&] { ready = true; });
  ASSERT_TRUE(run_until([&] { return ready; }, 5s));
  ASSERT_NE(s.parked_view(), nullptr);
  EXPECT_EQ(*s.parked_view(), MailboxView::from_uids({1, 2, 3}));

  // Another client adds uid 4 and expunges uid 2; the edge tells the device itself, in IDLE.
  append(other, box, "m4");
  expunge_uids(other, box, "2");
  s.view_added(4);
  s.view_removed(2);
  EXPECT_EQ(*s.parked_view(), MailboxView::from_uids({1, 3, 4}));

  // The device's next command gets nothing it was already told, and its numbering still holds.
  DeviceModel device({1, 3, 4});
  const auto noop = exec(s, "NOOP\r\n");
  ASSERT_EQ(noop.result.status, StoreStatus::ok) << noop.result.text;
  EXPECT_EQ(device.apply(noop.untagged), "");
  EXPECT_TRUE(only(noop.untagged, "EXPUNGE").empty()) << noop.untagged.size();
  for (const auto& l : only(noop.untagged, "EXISTS")) EXPECT_EQ(l, "* 3 EXISTS\r\n");
  const auto fetch = exec(s, "FETCH 1:* (UID)\r\n");
  EXPECT_EQ(device.apply(fetch.untagged), "");
  EXPECT_EQ(only(fetch.untagged, "FETCH").size(), 3u);
  EXPECT_EQ(s.parked_view(), nullptr) << "a running command owns the numbering again";
  s.close();
}

// The HIGHESTMODSEQ the device's own SELECT reported bounds what it has seen (DeviceView::Mailbox::
// modseq_floor): kept with its view, so a late event at or below it is not told again (event_renderer).
TEST_F(StorePoolIT, TheDevicesSelectSetsTheModseqFloorOfItsView) {
  REQUIRE_STACK();
  Parked p;
  ASSERT_NO_FATAL_FAILURE(logged_in_with_mailbox(2, p));
  auto& s = *p.session;
  const auto& other = p.other;
  const std::string& box = p.box;
  const auto selected = exec(s, "SELECT " + box + " (CONDSTORE)\r\n");
  ASSERT_EQ(selected.result.status, StoreStatus::ok) << selected.result.text;
  std::uint64_t reported = 0;
  for (const auto& l : selected.untagged) {
    if (const auto at = l.find("[HIGHESTMODSEQ "); at != std::string::npos) reported = std::stoull(l.substr(at + 15));
  }
  ASSERT_GT(reported, 0u) << "the store did not report HIGHESTMODSEQ";
  bool ready = false;
  s.park_for_events([&] { ready = true; });
  ASSERT_TRUE(run_until([&] { return ready; }, 5s));
  auto view = s.device_view();
  ASSERT_TRUE(view && view->mailbox);
  EXPECT_EQ(view->mailbox->modseq_floor, reported);
  // A change by another client after the SELECT does not move it: the device has not seen that one.
  append(other, box, "m3");
  EXPECT_EQ(s.device_view()->mailbox->modseq_floor, reported);
  const auto saved = decode_view(encode_view(*s.device_view()));
  ASSERT_TRUE(saved && saved->mailbox);
  EXPECT_EQ(saved->mailbox->modseq_floor, reported);
  s.close();
}

// A change committed between the device's SELECT and its FETCH is above the floor, but the FETCH showed
// it: the MODSEQ the device read per UID is kept with the view (DeviceView::Mailbox::shown_modseqs), so
// that change's late event is not told again; nor is the echo of the device's own UID STORE.
TEST_F(StorePoolIT, TheDevicesFetchRecordsTheModseqsItShowedAboveTheFloor) {
  REQUIRE_STACK();
  Parked p;
  ASSERT_NO_FATAL_FAILURE(logged_in_with_mailbox(3, p));
  auto& s = *p.session;
  const auto& other = p.other;
  const std::string& box = p.box;
  ASSERT_EQ(exec(s, "SELECT " + box + " (CONDSTORE)\r\n").result.status, StoreStatus::ok);
  // Another client flags UID 2 after the SELECT, before the device's FETCH.
  EXPECT_EQ(direct_cmd(other, "SELECT " + box + "\r\n").status, StoreStatus::ok);
  EXPECT_EQ(direct_cmd(other, "UID STORE 2 +FLAGS.SILENT (\\Flagged)\r\n").status, StoreStatus::ok);
  EXPECT_EQ(direct_cmd(other, "UNSELECT\r\n").status, StoreStatus::ok);
  const auto fetch = exec(s, "UID FETCH 1:* (FLAGS MODSEQ)\r\n");
  ASSERT_EQ(fetch.result.status, StoreStatus::ok) << fetch.result.text;
  std::uint64_t shown2 = 0;
  for (const auto& l : fetch.untagged) {
    if (l.find("UID 2 ") == std::string::npos) continue;
    const auto at = l.find("MODSEQ (");
    ASSERT_NE(at, std::string::npos) << l;
    shown2 = std::stoull(l.substr(at + 8));
  }
  ASSERT_GT(shown2, 0u) << "the store did not show UID 2";
  // The device flags UID 3 itself; the store's answer carries its UID and new MODSEQ.
  const auto stored = exec(s, "UID STORE 3 +FLAGS (\\Seen)\r\n");
  ASSERT_EQ(stored.result.status, StoreStatus::ok) << stored.result.text;
  bool ready = false;
  s.park_for_events([&] { ready = true; });
  ASSERT_TRUE(run_until([&] { return ready; }, 5s));
  const auto view = s.device_view();
  ASSERT_TRUE(view && view->mailbox);
  const auto& shown = view->mailbox->shown_modseqs;
  EXPECT_EQ(shown.count(1), 0u) << "UID 1 did not change after the SELECT: the floor covers it";
  ASSERT_EQ(shown.count(2), 1u);
  EXPECT_EQ(shown.at(2), shown2);
  ASSERT_EQ(shown.count(3), 1u);
  EXPECT_GT(shown.at(3), shown2);
  const auto saved = decode_view(encode_view(*view));
  ASSERT_TRUE(saved && saved->mailbox);
  EXPECT_EQ(saved->mailbox->shown_modseqs, shown);
  s.close();
}

}  // namespace
}  // namespace pimap::edge
