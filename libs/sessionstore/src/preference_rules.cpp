#include <pimap/sessionstore/preferences.hpp>

#include <algorithm>
#include <array>
#include <cctype>

namespace pimap::sessionstore {
namespace {

enum class Kind { keywords, e164, fetch_list };

struct Rule {
  PreferenceSpec spec;
  Kind kind;
  std::vector<std::string_view> cannot;  // values the profile names but this server will not serve
};

const std::array<Rule, 6>& rules() {
  static const std::array<Rule, 6> r{{
      {{"PIMAP_OUTBAND_ADDRESS", "", {"E164"}}, Kind::e164, {}},
      {{"PIMAP_OUTBAND_CHANNEL", "NONE", {"SMS", "WAP_PUSH", "NONE"}},
       Kind::keywords,
       {"GSMSMS", "WAPWDP", "MMS", "UDP", "SIP"}},
      {{"PIMAP_OUTBAND_FORMAT", "EMN", {"EMN", "EXTENDED"}}, Kind::keywords, {}},
      {{"PIMAP_INBAND_NEW_FORMAT", "NONE", {"NONE", "FETCH-ATT-LIST"}}, Kind::fetch_list, {}},
      {{"PIMAP_INBAND_PUSH", "OFF", {"ON", "OFF"}}, Kind::keywords, {}},
      {{"PIMAP_EVENT_FILTER", "ALL", {"ALL", "NEW", "NONE"}}, Kind::keywords, {}},
  }};
  return r;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const Rule* find_rule(std::string_view name) {
  const std::string n = upper(name);
  for (const auto& r : rules())
    if (r.spec.name == n) return &r;
  return nullptr;
}

PrefCheck bad(std::string name, std::string reason) {
  return PrefCheck{PrefOutcome::bad, std::move(reason), std::move(name), {}};
}
PrefCheck cannot(std::string name, std::string reason) {
  return PrefCheck{PrefOutcome::cannot, std::move(reason), std::move(name), {}};
}
PrefCheck ok(std::string name, std::string value) {
  return PrefCheck{PrefOutcome::ok, {}, std::move(name), std::move(value)};
}

// One FETCH attribute (RFC 3501 fetch-att, plus RFC 7162 MODSEQ and RFC 3516 BINARY).
// Returns empty when fine, else the reason; sets `sets_seen` for attributes that mark the message
// \Seen, which an unsolicited push must never do.
std::string check_fetch_att(std::string_view tok, std::string& canonical, bool& sets_seen) {
  const auto cut = tok.find_first_of("[<");
  const std::string name = upper(tok.substr(0, cut));
  std::string_view rest = cut == std::string_view::npos ? std::string_view{} : tok.substr(cut);
  static constexpr std::string_view plain[] = {"UID", "FLAGS", "ENVELOPE", "INTERNALDATE", "RFC822.SIZE",
                                               "BODYSTRUCTURE", "BODY", "MODSEQ", "RFC822.HEADER",
                                               "RFC822", "RFC822.TEXT"};
  static constexpr std::string_view sectioned[] = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK",
                                                   "BINARY.SIZE"};
  if (rest.empty()) {
    if (std::find(std::begin(plain), std::end(plain), name) == std::end(plain))
      return "unknown FETCH attribute " + std::string(tok);
    if (name == "RFC822" || name == "RFC822.TEXT") sets_seen = true;
    canonical = name;
    return {};
  }
  if (std::find(std::begin(sectioned), std::end(sectioned), name) == std::end(sectioned))
    return "FETCH attribute " + name + " takes no section";
  if (rest.front() != '[') return "expected '[' after " + name;
  const auto close = rest.find(']');
  if (close == std::string_view::npos) return "unbalanced '[' in " + std::string(tok);
  std::string_view section = rest.substr(1, close - 1);
  int depth = 0;
  for (char c : section) {
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth < 0) return "unbalanced parentheses in section";
    } else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ' ' || c == '-' || c == '_')) {
      return "invalid character in section";
    }
  }
  if (depth != 0) return "unbalanced parentheses in section";
  std::string_view partial = rest.substr(close + 1);
  if (!partial.empty()) {
    if (name == "BINARY.SIZE") return "BINARY.SIZE takes no partial";
    if (partial.front() != '<' || partial.back() != '>' || partial.size() < 3) return "invalid partial";
    bool dot = false;
    for (char c : partial.substr(1, partial.size() - 2)) {
      if (c == '.' && !dot) dot = true;
      else if (!std::isdigit(static_cast<unsigned char>(c))) return "invalid partial";
    }
  }
  if (name == "BODY" || name == "BINARY") sets_seen = true;
  canonical = name + "[" + upper(section) + "]" + std::string(partial);
  return {};
}

PrefCheck check_fetch_list(const std::string& name, std::string_view value) {
  if (upper(value) == "NONE") return ok(name, "NONE");
  if (value.size() > 1024) return bad(name, "FETCH attribute list too long");
  std::string_view inner = value;
  if (!inner.empty() && inner.front() == '(') {
    if (inner.back() != ')') return bad(name, "unbalanced parentheses");
    inner = trim(inner.substr(1, inner.size() - 2));
  } else {
    const std::string macro = upper(inner);
    // The FETCH macros stand for lists; ALL and FULL include ENVELOPE, FAST does not.
    if (macro == "ALL" || macro == "FAST" || macro == "FULL") return ok(name, macro);
  }
  if (inner.empty()) return bad(name, "empty FETCH attribute list");
  std::vector<std::string> atts;
  bool sets_seen = false;
  std::size_t start = 0;
  int bracket = 0;
  for (std::size_t i = 0; i <= inner.size(); ++i) {
    const char c = i < inner.size() ? inner[i] : ' ';
    if (c == '[') ++bracket;
    else if (c == ']') --bracket;
    else if (c == '(' && bracket == 0) return bad(name, "nested list in FETCH attribute list");
    if (c == ' ' && bracket == 0) {
      if (i > start) {
        std::string canonical;
        if (auto why = check_fetch_att(inner.substr(start, i - start), canonical, sets_seen); !why.empty())
          return bad(name, why);
        atts.push_back(std::move(canonical));
      }
      start = i + 1;
    }
    if (bracket < 0) return bad(name, "unbalanced ']'");
  }
  if (bracket != 0) return bad(name, "unbalanced '['");
  if (sets_seen) return cannot(name, "an unsolicited FETCH must not set \\Seen; use BODY.PEEK");
  std::string canonical = "(";
  for (std::size_t i = 0; i < atts.size(); ++i) canonical += (i ? " " : "") + atts[i];
  return ok(name, canonical + ")");
}

PrefCheck check_e164(const std::string& name, std::string_view value) {
  if (value.empty() || upper(value) == "NIL" || upper(value) == "NONE") return ok(name, "");
  if (value.front() != '+') return bad(name, "expected + and 6 to 15 digits (E.164)");
  const auto digits = value.substr(1);
  if (digits.size() < 6 || digits.size() > 15 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return bad(name, "expected + and 6 to 15 digits (E.164)");
  return ok(name, std::string(value));
}

}  // namespace

std::string canonical_preference_name(std::string_view name) {
  const Rule* r = find_rule(name);
  return r ? std::string(r->spec.name) : std::string();
}

PrefCheck check_preference(std::string_view name, std::string_view raw_value) {
  const Rule* rule = find_rule(name);
  if (rule == nullptr) return bad(std::string(name), "unknown preference " + std::string(name));
  const std::string canonical_name(rule->spec.name);
  const std::string_view value = trim(raw_value);
  switch (rule->kind) {
    case Kind::e164: return check_e164(canonical_name, value);
    case Kind::fetch_list: return check_fetch_list(canonical_name, value);
    case Kind::keywords: break;
  }
  const std::string v = upper(value);
  if (std::find(rule->spec.provision.begin(), rule->spec.provision.end(), v) != rule->spec.provision.end())
    return ok(canonical_name, v);
  if (std::find(rule->cannot.begin(), rule->cannot.end(), v) != rule->cannot.end())
    return cannot(canonical_name, v + " is not supported by this server");
  return bad(canonical_name, "invalid value for " + canonical_name);
}

std::span<const PreferenceSpec> preference_specs() {
  static const std::vector<PreferenceSpec> specs = [] {
    std::vector<PreferenceSpec> s;
    for (const auto& r : rules()) s.push_back(r.spec);
    return s;
  }();
  return specs;
}

}  // namespace pimap::sessionstore
