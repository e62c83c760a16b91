// Against the real stack (scripts/stack up; PIMAP_STACK_JSON): a mail delivered over LMTP (through
// whichever push_notification driver the stack renders) comes out of Kafka `pimap.events` as MESSAGE_NEW.

#include <pimap/events.pb.h>
#include <pimap/kafka/consumer.hpp>

#include <arpa/inet.h>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace {

using namespace std::chrono_literals;

// Minimal LMTP client: returns "" or what went wrong.
std::string lmtp_deliver(const std::string& hostport, const std::string& rcpt, const std::string& subject) {
  auto colon = hostport.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(hostport.substr(colon + 1))));
  inet_pton(AF_INET, hostport.substr(0, colon).c_str(), &addr.sin_addr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  std::string transcript;
  auto read_reply = [&]() {
    std::string line;
    char c;
    while (::read(fd, &c, 1) == 1) {
      line += c;
      if (c == '\n') {
        transcript += line;
        if (line.size() >= 4 && line[3] == ' ') return line;
        line.clear();
      }
    }
    return line;
  };
  auto send = [&](const std::string& s) { return ::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size()); };
  std::string err;
  if (read_reply().rfind("220", 0) != 0) err = "no greeting";
  const std::string steps[] = {"LHLO test.local\r\n", "MAIL FROM:<it@example.test>\r\n", "RCPT TO:<" + rcpt + ">\r\n",
                               "DATA\r\n"};
  for (const auto& s : steps) {
    if (!err.empty()) break;
    send(s);
    auto reply = read_reply();
    if (reply.empty() || (reply[0] != '2' && reply[0] != '3')) err = "'" + s + "' -> " + reply;
  }
  if (err.empty()) {
    send("From: it@example.test\r\nTo: " + rcpt + "\r\nSubject: " + subject + "\r\n\r\nhello\r\n.\r\n");
    auto reply = read_reply();
    if (reply.rfind("250", 0) != 0) err = "DATA -> " + reply;
    send("QUIT\r\n");
  }
  ::close(fd);
  return err;
}

TEST(StoreWatcherIntegration, LmtpDeliveryBecomesStoreEventInKafka) {
  const char* path = std::getenv("PIMAP_STACK_JSON");
  if (path == nullptr) GTEST_SKIP() << "PIMAP_STACK_JSON not set (start the stack: scripts/stack up)";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto doc = boost::json::parse(text.str()).as_object();
  const std::string brokers(doc.at("kafka").as_string());
  const std::string lmtp(doc.at("dovecot").as_object().at("lmtp").as_string());
  const std::string user(doc.at("users").as_array().at(0).as_object().at("name").as_string());
  const std::string email(doc.at("users").as_array().at(0).as_object().at("email").as_string());

  pimap::kafka::ConsumerOptions co;
  co.brokers = brokers;
  co.group_id = "it-store-watcher-" + std::to_string(::getpid());
  co.topics = {"pimap.events"};
  // "earliest" with a fresh group, filtered by the unique subject below: "latest" resolves its offset
  // lazily after the assignment, so a record produced in between would be skipped.
  co.auto_offset_reset = "earliest";
  bool assigned = false;
  co.on_assigned = [&](const auto&) { assigned = true; };
  auto c = pimap::kafka::Consumer::create(co);
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto& consumer = *c.value();
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!assigned && std::chrono::steady_clock::now() < deadline) (void)consumer.poll(100ms);
  ASSERT_TRUE(assigned);

  const std::string subject = "store-watcher it " + std::to_string(::getpid());
  ASSERT_EQ(lmtp_deliver(lmtp, email, subject), "");

  deadline = std::chrono::steady_clock::now() + 30s;
  std::optional<pimap::v1::StoreEvent> found;
  while (!found && std::chrono::steady_clock::now() < deadline) {
    auto m = consumer.poll(200ms);
    if (!m.ok() || !m.value()) continue;
    pimap::v1::StoreEvent e;
    if (e.ParseFromString(m.value()->value) && e.user() == user && e.messages_size() == 1 &&
        e.messages(0).subject() == subject) {
      EXPECT_EQ(m.value()->key, user);
      found = e;
    }
  }
  ASSERT_TRUE(found) << "no StoreEvent for the delivered mail";
  EXPECT_EQ(found->kind(), pimap::v1::StoreEvent::MESSAGE_NEW);
  EXPECT_EQ(found->source(), "push_notification");
  EXPECT_EQ(found->mailbox(), "INBOX");
  EXPECT_GT(found->uidvalidity(), 0u);
  ASSERT_EQ(found->uids_size(), 1);
  EXPECT_EQ(found->event_id(), user + "/INBOX/" + std::to_string(found->uidvalidity()) + "/" +
                                   std::to_string(found->uids(0)) + "/new");
  consumer.close();
}

}  // namespace
