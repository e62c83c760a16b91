#include "pimap/kit/command_line.hpp"

#include <gtest/gtest.h>

namespace pimap::kit {
namespace {

CommandLine parse(std::vector<const char*> args) {
  args.insert(args.begin(), "pimap-test");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(CommandLine, ReadsConfigFileFlagsAndModes) {
  auto cl = parse({"--config", "/etc/pimap/edge.yaml", "--admin.listen=127.0.0.1:1", "--edge.compress",
                   "--store.banner=a=b", "--print-config"});
  ASSERT_TRUE(cl.config_file);
  EXPECT_EQ(cl.config_file->string(), "/etc/pimap/edge.yaml");
  ASSERT_EQ(cl.flags.size(), 3u);
  EXPECT_EQ(cl.flags[0].key, "admin.listen");
  EXPECT_EQ(cl.flags[0].value, "127.0.0.1:1");
  EXPECT_EQ(cl.flags[1].key, "edge.compress");
  EXPECT_FALSE(cl.flags[1].value);
  EXPECT_EQ(cl.flags[2].value, "a=b");  // only the first '=' separates
  EXPECT_TRUE(cl.print_config);
  EXPECT_FALSE(cl.help);

  auto eq = parse({"--config=x.yaml", "--help"});
  EXPECT_EQ(eq.config_file->string(), "x.yaml");
  EXPECT_TRUE(eq.help);
}

TEST(CommandLine, RejectsPositionalAndSingleDashArguments) {
  EXPECT_THROW(parse({"edge.yaml"}), ConfigError);
  EXPECT_THROW(parse({"-v"}), ConfigError);
  EXPECT_THROW(parse({"--config"}), ConfigError);
  try {
    parse({"stray"});
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'stray'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pimap::kit
