#include "pimap/kit/config_print.hpp"

#include <algorithm>

#include "pimap/kit/config_value.hpp"
#include "pimap/kit/redaction.hpp"

namespace pimap::kit {
namespace {

std::vector<const KeySpec*> sorted_keys(const Schema& schema) {
  std::vector<const KeySpec*> keys;
  for (const auto& k : schema.keys()) keys.push_back(&k);
  std::sort(keys.begin(), keys.end(), [](const KeySpec* a, const KeySpec* b) { return a->path < b->path; });
  return keys;
}

std::string type_text(const KeySpec& k) {
  std::string t(type_name(k.type));
  if (k.type == ValueType::enumeration) {
    t += "(";
    for (std::size_t i = 0; i < k.allowed.size(); ++i) t += (i ? "|" : "") + k.allowed[i];
    t += ")";
  }
  if (k.type == ValueType::integer && (k.min_int || k.max_int))
    t += " in [" + (k.min_int ? std::to_string(*k.min_int) : "") + ", " +
         (k.max_int ? std::to_string(*k.max_int) : "") + "]";
  if (k.type == ValueType::real && (k.min_real || k.max_real))
    t += " in [" + (k.min_real ? format_value(*k.min_real) : "") + ", " +
         (k.max_real ? format_value(*k.max_real) : "") + "]";
  if (k.type == ValueType::duration && (k.min_int || k.max_int))
    t += " in [" + (k.min_int ? format_value(std::chrono::milliseconds(*k.min_int)) : "") + ", " +
         (k.max_int ? format_value(std::chrono::milliseconds(*k.max_int)) : "") + "]";
  if (k.secret) t += ", secret";
  return t;
}

// A YAML scalar that reads back as the same text: JSON-style double quotes are valid YAML.
std::string yaml_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string yaml_value(const Value& v) {
  if (const auto* list = std::get_if<std::vector<std::string>>(&v)) {
    std::string out = "[";
    for (std::size_t i = 0; i < list->size(); ++i) out += (i ? ", " : "") + yaml_quote((*list)[i]);
    return out + "]";
  }
  if (std::holds_alternative<std::string>(v) || std::holds_alternative<HostPort>(v))
    return yaml_quote(format_value(v));
  return format_value(v);
}

}  // namespace

void print_help(std::ostream& out, std::string_view program, const Schema& schema) {
  out << "usage: " << program << " [--config FILE.yaml] [--key.path=value ...] [--help] [--print-config]\n\n"
      << "Every key can be set in the YAML file (nested or dotted), in the environment (PIMAP_ + key\n"
      << "upper-cased, dots -> '_') or as --key.path=value. Precedence: flag > environment > file > default.\n"
      << "A secret key may instead name a file holding the value: <key>_file.\n"
      << "--print-config prints the effective configuration (secrets redacted) and exits.\n\nkeys:\n";
  for (const KeySpec* k : sorted_keys(schema)) {
    out << "  " << k->path << "  (" << type_text(*k) << ")\n";
    if (k->presence == Presence::defaulted) out << "      default: " << format_value(*k->default_value) << "\n";
    else if (k->presence == Presence::required) out << "      required\n";
    else out << "      optional, no default\n";
    out << "      env: " << k->env_name();
    if (k->secret) out << "  (or " << env_name_for(k->file_key()) << " / " << k->file_key() << ": file with the value)";
    out << "\n";
    if (!k->help.empty()) out << "      " << k->help << "\n";
  }
}

void print_effective_config(std::ostream& out, const Config& config) {
  out << "# effective configuration (secrets redacted)\n";
  for (const KeySpec* k : sorted_keys(config.schema())) {
    if (!config.has(k->path)) {
      out << "# " << k->path << ": (not set)\n";
      continue;
    }
    const Origin& o = config.origin(k->path);
    std::string value = k->secret ? yaml_quote(redacted_text) : yaml_value(config.value(k->path));
    out << k->path << ": " << value << "  # " << source_name(o.source);
    if (!o.where.empty()) out << " " << o.where;
    if (!o.via_file.empty()) out << " -> file " << o.via_file;
    out << "\n";
  }
}

}  // namespace pimap::kit
