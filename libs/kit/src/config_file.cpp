#include "config_file.hpp"

#include <yaml-cpp/yaml.h>

namespace pimap::kit::detail {
namespace {

struct Reader {
  const Schema& schema;
  std::string file;
  FileSettings out;

  std::string where(const YAML::Node& node) const {
    return file + ":" + std::to_string(node.Mark().line + 1);
  }

  void problem(const std::string& path, const YAML::Node& node, const std::string& what) {
    out.problems.push_back("config: key '" + path + "' (file " + where(node) + "): " + what);
  }

  bool is_leaf(const std::string& path) const {
    return schema.find(path) != nullptr || schema.find_by_file_key(path) != nullptr;
  }

  void walk(const YAML::Node& map, const std::string& prefix) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      // Copies, not references: yaml-cpp's iterator hands out a temporary pair of node handles.
      const YAML::Node key_node = it->first;
      const YAML::Node value = it->second;
      std::string key = key_node.as<std::string>();
      std::string path = prefix.empty() ? key : prefix + "." + key;
      if (value.IsMap() && !is_leaf(path)) {
        walk(value, path);
        continue;
      }
      if (out.settings.count(path) != 0) {
        problem(path, key_node, "set twice in the file");
        continue;
      }
      FileSetting setting;
      setting.where = where(key_node);
      if (value.IsNull()) continue;
      if (value.IsScalar()) {
        setting.scalar = value.Scalar();
      } else if (value.IsSequence()) {
        std::vector<std::string> items;
        bool scalars = true;
        for (const auto& item : value) {
          if (!item.IsScalar()) scalars = false;
          else items.push_back(item.Scalar());
        }
        if (!scalars) {
          problem(path, value, "list items must be plain values");
          continue;
        }
        setting.list = std::move(items);
      } else {
        // Only declared keys get here with a mapping (anything else was walked as a section).
        problem(path, value, "expected a value, got a mapping");
        continue;
      }
      out.settings.emplace(path, std::move(setting));
    }
  }
};

}  // namespace

FileSettings read_config_file(const std::filesystem::path& file, const Schema& schema) {
  Reader reader{schema, file.string(), {}};
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    reader.out.problems.push_back("config: cannot read config file '" + file.string() + "'");
    return std::move(reader.out);
  } catch (const YAML::Exception& e) {
    reader.out.problems.push_back("config: " + file.string() + ":" + std::to_string(e.mark.line + 1) +
                                  ": invalid YAML: " + e.msg);
    return std::move(reader.out);
  }
  if (root.IsNull()) return std::move(reader.out);
  if (!root.IsMap()) {
    reader.out.problems.push_back("config: " + file.string() + ": the top level must be a mapping of keys");
    return std::move(reader.out);
  }
  try {
    reader.walk(root, "");
  } catch (const YAML::Exception& e) {
    reader.out.problems.push_back("config: " + file.string() + ":" + std::to_string(e.mark.line + 1) +
                                  ": " + e.msg);
  }
  return std::move(reader.out);
}

}  // namespace pimap::kit::detail
