#include <pimap/sessionstore/preferences.hpp>

#include <pimap/sessionstore/device_index.hpp>

#include "store_util.hpp"

#include <algorithm>

namespace pimap::sessionstore {

PreferenceStore::PreferenceStore(redis::Pool& pool, Keys keys) : pool_(pool), keys_(std::move(keys)) {}

Result<SetPrefsResult> PreferenceStore::set(const DeviceKey& device, const PreferenceList& prefs) {
  if (auto v = validate(device); !v) return v.error();
  std::vector<PrefCheck> checked;
  checked.reserve(prefs.size());
  for (const auto& [name, value] : prefs) {
    auto c = check_preference(name, value);
    if (c.outcome != PrefOutcome::ok) return SetPrefsResult{std::move(c)};
    checked.push_back(std::move(c));
  }
  if (checked.empty()) return SetPrefsResult{};
  // Indexed before and after the write (see DeviceIndex): out-of-band preferences keep a device
  // notifiable without a session.
  DeviceIndex index(pool_, keys_);
  if (auto added = index.add(device); !added) return added.error();
  const std::string key = keys_.prefs(device);
  redis::Pipeline p;
  p.add({"MULTI"});
  for (const auto& c : checked) {
    // No value (a cleared address) is stored as no field, so the default applies again.
    if (c.value.empty()) p.add({"HDEL", key, c.name});
    else p.add({"HSET", key, c.name, c.value});
  }
  p.add({"EXEC"});
  auto r = pool_.pipeline(p, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  if (!r->back().is_array()) return StoreError{StoreErrc::redis, "preferences not stored: " + r->back().debug_string(), false};
  static_cast<void>(index.add(device));
  return SetPrefsResult{};
}

Result<PreferenceList> PreferenceStore::get(const DeviceKey& device, std::span<const std::string> names) {
  if (auto v = validate(device); !v) return v.error();
  std::vector<const PreferenceSpec*> wanted;
  const auto specs = preference_specs();
  if (names.empty()) {
    for (const auto& s : specs) wanted.push_back(&s);
  } else {
    for (const auto& n : names) {
      const std::string canonical = canonical_preference_name(n);
      auto it = std::find_if(specs.begin(), specs.end(), [&](const auto& s) { return s.name == canonical; });
      if (canonical.empty() || it == specs.end())
        return StoreError{StoreErrc::invalid_argument, "unknown preference " + n, false};
      wanted.push_back(&*it);
    }
  }
  std::vector<std::string> cmd{"HMGET", keys_.prefs(device)};
  for (const auto* s : wanted) cmd.emplace_back(s->name);
  auto r = pool_.command(cmd, redis::Retry::if_stale);
  if (!r) return from_redis(r.error());
  if (r->elements().size() != wanted.size()) return detail::corrupt("preferences: unexpected reply");
  PreferenceList out;
  out.reserve(wanted.size());
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const auto& e = r->elements()[i];
    out.emplace_back(std::string(wanted[i]->name),
                     e.is_nil() ? std::string(wanted[i]->default_value) : std::string(e.str()));
  }
  return out;
}

}  // namespace pimap::sessionstore
