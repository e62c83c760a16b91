#pragma once
// The decorated login names of profile §3: "user#P<device-id>[@domain]".
//
// The device id rides inside the username so that unmodified IMAP clients and SASL PLAIN can carry it.
// The split is on the last '#' before the '@' (a '#' inside the local part stays part of the user name
// when what follows it is not a device id), so an ordinary account whose name contains '#' still logs in
// as a plain IMAP session.

#include <optional>
#include <string>
#include <string_view>

namespace pimap::edge {

struct DeviceLogin {
  std::string store_user;  // what the store authenticates: "user" or "user@domain"
  std::string device_id;   // "P..." or empty for a plain IMAP session
  bool is_pimap() const { return !device_id.empty(); }
};

// True for "P" followed by 1..64 of [A-Za-z0-9._-].
bool valid_device_id(std::string_view id);

// Never fails: a name without a valid device id is a plain login of the whole name.
DeviceLogin parse_login_name(std::string_view name);

}  // namespace pimap::edge
