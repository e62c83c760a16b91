#pragma once
// P-IMAP preferences (profile §5): validation, defaults, XPROVISION data, and their storage per
// user + device, kept across sessions (no TTL; LOGOUT does not touch them).
//
// Validation distinguishes the two ways XSETPIMAPPREF can fail: `bad` (not a preference, or not a
// value of it: the edge answers BAD) and `cannot` (a value the profile knows but this server will
// not serve: NO [CANNOT]).

#include <pimap/redis/pool.hpp>
#include <pimap/sessionstore/keys.hpp>
#include <pimap/sessionstore/types.hpp>

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pimap::sessionstore {

enum class PrefOutcome { ok, bad, cannot };

struct PrefCheck {
  PrefOutcome outcome = PrefOutcome::ok;
  std::string reason;  // for bad/cannot: a short human-readable reason for the response text
  std::string name;    // canonical (upper-case) name when known
  std::string value;   // canonical value to store when ok (keywords upper-cased, fetch list in parens)
};

// Names are case-insensitive; keyword values too. An empty value means "no value" and is accepted
// only where the default is no value (PIMAP_OUTBAND_ADDRESS), as is the keyword NIL there.
PrefCheck check_preference(std::string_view name, std::string_view value);

// Canonical name, or empty if `name` is not a preference (answer BAD).
std::string canonical_preference_name(std::string_view name);

struct PreferenceSpec {
  std::string_view name;
  std::string_view default_value;  // empty = no value (XGETPIMAPPREF shows NIL)
  // What XPROVISION lists as accepted: keywords, or a description token for free-form values
  // ("E164" for the address, "FETCH-ATT-LIST" for a FETCH attribute list).
  std::vector<std::string_view> provision;
};

// Every preference of the profile, in the profile's order.
std::span<const PreferenceSpec> preference_specs();

using PreferenceList = std::vector<std::pair<std::string, std::string>>;

struct SetPrefsResult {
  PrefCheck failed;  // outcome ok: everything was stored; else the first rejected preference
};

class PreferenceStore {
 public:
  PreferenceStore(redis::Pool& pool, Keys keys);

  // All or nothing: every preference is validated before any is stored.
  Result<SetPrefsResult> set(const DeviceKey& device, const PreferenceList& prefs);
  // `names` empty = every preference, in profile order; unset ones come back with their default.
  // An unknown name is an invalid_argument error naming it.
  Result<PreferenceList> get(const DeviceKey& device, std::span<const std::string> names = {});

 private:
  redis::Pool& pool_;
  Keys keys_;
};

}  // namespace pimap::sessionstore
