// Replays the fuzz seed corpus (fuzz/seeds/command) through the fuzz target's oracles in ordinary unit
// tests: byte-by-byte feeding gives the events of whole feeding, and every command round-trips. A crash
// found by the fuzzer belongs in that directory too (see docs/imap-library.md), so it stays covered here.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "command_test_util.hpp"

namespace pimap::imap {
namespace {

std::filesystem::path corpus_dir() {
  return std::filesystem::path(PIMAP_IMAP_TEST_DIR) / ".." / ".." / ".." / "fuzz" / "seeds" / "command";
}

TEST(CommandCorpus, SeedsKeepTheFuzzInvariants) {
  ASSERT_TRUE(std::filesystem::is_directory(corpus_dir())) << corpus_dir();
  int files = 0;
  int commands = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir())) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.size() < 2) continue;
    ++files;
    ParserLimits limits;
    if ((static_cast<unsigned char>(data[1]) & 1) != 0) {  // the fuzz target's tiny limits
      limits.max_line_length = 200;
      limits.max_literal_size = 300;
      limits.max_command_literal_bytes = 400;
      limits.max_nonsync_literal_size = 100;
      limits.max_nesting_depth = 6;
      limits.max_arguments = 40;
    }
    const std::string input = data.substr(2);
    const std::vector<ParseEvent> whole = testing::events_of(input, 0, limits);
    EXPECT_EQ(testing::describe(testing::events_of(input, 1, limits)), testing::describe(whole))
        << entry.path();
    for (const ParseEvent& ev : whole) {
      const auto* cmd = std::get_if<Command>(&ev);
      if (cmd == nullptr) continue;
      ++commands;
      ParserLimits relaxed;
      relaxed.max_line_length = 1 << 24;
      const std::string out = serialize(*cmd);
      auto again = parse_command(out, relaxed);
      ASSERT_TRUE(std::holds_alternative<Command>(again)) << entry.path() << "\n" << out;
      EXPECT_EQ(std::get<Command>(again), *cmd) << entry.path() << "\n" << out;
    }
  }
  EXPECT_GE(files, 50);
  EXPECT_GE(commands, 50);
}

}  // namespace
}  // namespace pimap::imap
