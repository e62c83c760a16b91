#pragma once
// An OMA E-Mail Notification 1.0 (OMA-Push-EMN-v1_0): "there is new mail in this mailbox, as of this
// time". It carries no message data at all, which is why profile §11 allows it over SMS.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pimap::emn {

struct Notification {
  std::string mailbox;                  // a URI, e.g. "mailat:alice@example.test"
  std::chrono::sys_seconds timestamp{};  // UTC, second resolution (the format has no finer one)
  friend bool operator==(const Notification&, const Notification&) = default;
};

// "mailat:" + address, the mailbox form profile §11 uses.
std::string mailat(std::string_view address);

// Calendar fields of a timestamp, the form both encodings are built from. Years outside 0..9999 are
// not representable in either form.
struct DateTime {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};
DateTime to_date_time(std::chrono::sys_seconds t);
// Empty for a date that does not exist (2025-02-30) or a field out of range.
std::optional<std::chrono::sys_seconds> from_date_time(const DateTime& dt);

}  // namespace pimap::emn
