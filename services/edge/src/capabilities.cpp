#include "capabilities.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace pimap::edge {

namespace {
constexpr std::string_view kEdgeOwn = "IDLE ENABLE LITERAL+ ID COMPRESS=DEFLATE XPIMAPPREF XPROVISION XZIP";

constexpr std::array<std::string_view, 26> kPassthrough = {
    "CONDSTORE", "QRESYNC",   "UIDPLUS",     "MOVE",        "ESEARCH",       "ESORT",     "SORT",
    "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "NAMESPACE", "CHILDREN",   "UNSELECT",  "MULTIAPPEND",
    "BINARY",    "WITHIN",    "SEARCHRES",   "CONTEXT=SEARCH", "I18NLEVEL=1", "STATUS=SIZE", "SAVEDATE",
    "SNIPPET=FUZZY", "PREVIEW=FUZZY", "PREVIEW", "METADATA", "METADATA-SERVER"};
}  // namespace

bool passthrough_capability(const std::string& cap) {
  if (cap.rfind("THREAD=", 0) == 0 || cap.rfind("SORT=", 0) == 0) return true;
  return std::find(kPassthrough.begin(), kPassthrough.end(), cap) != kPassthrough.end();
}

std::string pre_auth_capabilities(bool tls, bool starttls, bool allow_plaintext_login) {
  std::string s = "IMAP4rev1";
  if (!tls && starttls) s += " STARTTLS";
  if (tls || allow_plaintext_login) {
    s += " AUTH=PLAIN SASL-IR";
  } else {
    s += " LOGINDISABLED";
  }
  s += " LITERAL+ ID ENABLE IDLE";
  return s;
}

std::string post_auth_capabilities(const std::vector<std::string>& store_caps) {
  std::string s = "IMAP4rev1 ";
  s += kEdgeOwn;
  for (const auto& c : store_caps) {
    if (!passthrough_capability(c)) continue;
    // Whole-token comparison: " PREVIEW" is a prefix of " PREVIEW=FUZZY" but not the same capability.
    const std::string padded = s + " ";
    if (padded.find(" " + c + " ") == std::string::npos) s += " " + c;
  }
  return s;
}

std::string xprovision_lines() {
  return "* XPROVISION XPIMAPPREF PIMAP_OUTBAND_CHANNEL (SMS WAP_PUSH NONE)\r\n"
         "* XPROVISION XPIMAPPREF PIMAP_OUTBAND_ADDRESS (E164)\r\n"
         "* XPROVISION XPIMAPPREF PIMAP_OUTBAND_FORMAT (EMN EXTENDED)\r\n"
         "* XPROVISION XPIMAPPREF PIMAP_INBAND_NEW_FORMAT (NONE FETCH-ATT-LIST)\r\n"
         "* XPROVISION XPIMAPPREF PIMAP_INBAND_PUSH (ON OFF)\r\n"
         "* XPROVISION XPIMAPPREF PIMAP_EVENT_FILTER (ALL NEW NONE)\r\n"
         "* XPROVISION XFILTER ()\r\n"
         "* XPROVISION MACROS ()\r\n";
}

}  // namespace pimap::edge
