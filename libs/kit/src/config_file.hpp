#pragma once
// Reading the YAML config file into flat key paths. Nested mappings and dotted keys are the same
// thing: `admin: {listen: x}` and `admin.listen: x` both set "admin.listen" (--print-config writes the
// flat form). Which paths are real keys is decided by the caller; this only needs the schema to know
// where a mapping is a value in the wrong place rather than a section.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pimap/kit/config_schema.hpp"

namespace pimap::kit::detail {

struct FileSetting {
  std::optional<std::string> scalar;             // a scalar, as written
  std::optional<std::vector<std::string>> list;  // a sequence of scalars
  std::string where;                             // "file.yaml:LINE"
};

struct FileSettings {
  std::map<std::string, FileSetting> settings;  // null values are left out: they mean "not set"
  std::vector<std::string> problems;            // complete "config: ..." messages
};

FileSettings read_config_file(const std::filesystem::path& file, const Schema& schema);

}  // namespace pimap::kit::detail
