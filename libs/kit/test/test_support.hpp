#pragma once
// Small helpers shared by the kit tests: temporary files and a fake environment.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "pimap/kit/config.hpp"

namespace pimap::kit::test {

// A file in a fresh temporary directory, removed with it.
class TempFile {
 public:
  explicit TempFile(const std::string& content, const std::string& name = "config.yaml") {
    std::string pattern = (std::filesystem::temp_directory_path() / "pimap-kit-test-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    path_ = dir_ / name;
    std::ofstream(path_) << content;
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path path_;
};

inline EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace pimap::kit::test
