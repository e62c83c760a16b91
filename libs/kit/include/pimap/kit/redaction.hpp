#pragma once
// What counts as a credential in a log line. A field is redacted by its key, because its value cannot
// be recognised as secret; keeping the rule in one place lets tests pin it down.

#include <string_view>

namespace pimap::kit {

inline constexpr std::string_view redacted_text = "***";

// True for keys that name a credential: any key containing password, passwd, secret, credential or
// authorization, and any key with a word (split at '_', '.', '-') equal to pass, pwd, token, cookie,
// apikey, or the pair api_key. Case-insensitive. "password_file" is sensitive too: the rule errs on the
// side of hiding a path rather than risking a value.
bool is_sensitive_key(std::string_view key);

}  // namespace pimap::kit
