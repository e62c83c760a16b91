#include "pimap/kit/log.hpp"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <mutex>
#include <thread>

namespace pimap::kit {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (std::regex would do, but trips GCC 12 warnings under the sanitizers).
bool is_rfc3339_millis(const std::string& ts) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (ts.size() != shape.size()) return false;
  for (std::size_t i = 0; i < ts.size(); ++i)
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(ts[i])) : ts[i] != shape[i]) return false;
  return true;
}

struct Captured {
  std::mutex mutex;
  std::vector<std::string> lines;
  Logger::Sink sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(line);
    };
  }
  boost::json::object object(std::size_t i) { return boost::json::parse(lines.at(i)).as_object(); }
};

TEST(Log, LineIsOneJsonObjectWithFixedKeysAndTypedFields) {
  Captured c;
  Logger log("edge", Level::info, c.sink());
  log.info("device attached", {{"conn", 42}, {"bytes", 7u}, {"ratio", 0.5}, {"tls", true}, {"binding", "tcp"}});
  ASSERT_EQ(c.lines.size(), 1u);
  const std::string& line = c.lines[0];
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_EQ(line.rfind("{\"ts\":", 0), 0u);  // ts comes first: lines sort by time
  auto o = c.object(0);
  EXPECT_TRUE(is_rfc3339_millis(std::string(o.at("ts").as_string()))) << o.at("ts");
  EXPECT_EQ(o.at("level").as_string(), "info");
  EXPECT_EQ(o.at("svc").as_string(), "edge");
  EXPECT_EQ(o.at("msg").as_string(), "device attached");
  EXPECT_EQ(o.at("conn").as_int64(), 42);
  EXPECT_EQ(o.at("bytes").to_number<std::uint64_t>(), 7u);
  EXPECT_DOUBLE_EQ(o.at("ratio").as_double(), 0.5);
  EXPECT_EQ(o.at("tls").as_bool(), true);
  EXPECT_EQ(o.at("binding").as_string(), "tcp");
}

TEST(Log, EscapesAnythingSoEveryLineParsesBack) {
  Captured c;
  Logger log("edge", Level::debug, c.sink());
  const std::string nasty = std::string("quote\" backslash\\ newline\n tab\t nul") + '\0' + "\x01 bell\x07 é 😀";
  const std::string invalid_utf8 = "bad\xff\xfe byte \xc3";
  log.info(nasty, {{"cmd", nasty}, {"raw", invalid_utf8}});
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(std::count(c.lines[0].begin(), c.lines[0].end(), '\n'), 1);
  auto o = c.object(0);
  EXPECT_EQ(std::string(o.at("msg").as_string()), nasty);
  EXPECT_EQ(std::string(o.at("cmd").as_string()), nasty);
  EXPECT_EQ(std::string(o.at("raw").as_string()), "bad\xEF\xBF\xBD\xEF\xBF\xBD byte \xEF\xBF\xBD");
}

TEST(Log, ReservedKeysAndNonFiniteNumbersStayValidJson) {
  Captured c;
  Logger log("edge", Level::info, c.sink());
  log.info("m", {{"msg", "field"}, {"level", 1}, {"nan", std::nan("")}});
  auto o = c.object(0);
  EXPECT_EQ(o.at("msg").as_string(), "m");
  EXPECT_EQ(o.at("field_msg").as_string(), "field");
  EXPECT_EQ(o.at("field_level").as_int64(), 1);
  EXPECT_EQ(o.at("nan").as_string(), "NaN");
}

TEST(Log, LevelFilterDropsLowerLevels) {
  Captured c;
  Logger log("edge", Level::warn, c.sink());
  EXPECT_FALSE(log.enabled(Level::info));
  EXPECT_TRUE(log.enabled(Level::error));
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_EQ(c.object(0).at("level").as_string(), "warn");
  EXPECT_EQ(c.object(1).at("level").as_string(), "error");
  Logger child = log.with({{"conn", 1}});
  log.set_level(Level::debug);  // shared with loggers made by with()
  child.debug("now visible");
  EXPECT_EQ(c.lines.size(), 3u);
  EXPECT_EQ(parse_level("warn"), Level::warn);
  EXPECT_FALSE(parse_level("verbose"));
}

TEST(Log, CredentialFieldsAreRedactedByKey) {
  Captured c;
  Logger log("edge", Level::info, c.sink());
  log.info("login", {{"user", "bob"},
                     {"password", "hunter2"},
                     {"pass", "hunter3"},
                     {"Authorization", "Basic Ym9iOmh1bnRlcjI="},
                     {"master_password_file_contents", "hunter4"},
                     {"api_key", "k-123"},
                     {"session_token", "t-456"},
                     {"note", Redacted{}}});
  const std::string& line = c.lines.at(0);
  for (const char* leaked : {"hunter2", "hunter3", "Ym9iOmh1bnRlcjI", "hunter4", "k-123", "t-456"})
    EXPECT_THAT(line, Not(HasSubstr(leaked)));
  auto o = c.object(0);
  EXPECT_EQ(o.at("user").as_string(), "bob");
  for (const char* key : {"password", "pass", "Authorization", "api_key", "session_token", "note"})
    EXPECT_EQ(o.at(key).as_string(), "***") << key;
}

TEST(Log, RegisteredSecretValuesAreScrubbedFromMessagesAndFields) {
  Captured c;
  Logger log("edge", Level::info, c.sink());
  log.redact_value("Tr0ub4dor&3");
  log.redact_value("abc");  // too short to scrub safely: ignored
  Logger child = log.with({{"cmd", "LOGIN alice*svc Tr0ub4dor&3"}});
  log.warn("store said: LOGIN alice*svc Tr0ub4dor&3 failed", {{"detail", "x Tr0ub4dor&3 y Tr0ub4dor&3"}});
  child.info("abc stays");
  auto o = c.object(0);
  EXPECT_EQ(o.at("msg").as_string(), "store said: LOGIN alice*svc *** failed");
  EXPECT_EQ(o.at("detail").as_string(), "x *** y ***");
  auto o2 = c.object(1);
  EXPECT_EQ(o2.at("cmd").as_string(), "LOGIN alice*svc ***");
  EXPECT_EQ(o2.at("msg").as_string(), "abc stays");
}

TEST(Log, ConcurrentLinesNeverInterleave) {
  Captured c;
  Logger log("edge", Level::info, c.sink());
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) log.info(std::string(100, static_cast<char>('a' + t)), {{"i", i}, {"t", t}});
    });
  for (auto& th : pool) th.join();
  ASSERT_EQ(c.lines.size(), static_cast<std::size_t>(threads * per_thread));
  std::vector<int> seen(threads, 0);
  for (std::size_t i = 0; i < c.lines.size(); ++i) {
    auto o = c.object(i);
    int t = static_cast<int>(o.at("t").as_int64());
    EXPECT_EQ(std::string(o.at("msg").as_string()), std::string(100, static_cast<char>('a' + t)));
    ++seen[static_cast<std::size_t>(t)];
  }
  for (int n : seen) EXPECT_EQ(n, per_thread);
}

}  // namespace
}  // namespace pimap::kit
