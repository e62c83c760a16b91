#include <pimap/emn/emn.hpp>

namespace pimap::emn {

std::string mailat(std::string_view address) { return "mailat:" + std::string(address); }

DateTime to_date_time(std::chrono::sys_seconds t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  return DateTime{static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
                  static_cast<int>(static_cast<unsigned>(ymd.day())), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count())};
}

std::optional<std::chrono::sys_seconds> from_date_time(const DateTime& dt) {
  using namespace std::chrono;
  if (dt.year < 0 || dt.year > 9999 || dt.hour < 0 || dt.hour > 23 || dt.minute < 0 || dt.minute > 59 ||
      dt.second < 0 || dt.second > 59 || dt.month < 1 || dt.month > 12 || dt.day < 1 || dt.day > 31)
    return std::nullopt;
  const year_month_day ymd{year{dt.year}, month{static_cast<unsigned>(dt.month)},
                           day{static_cast<unsigned>(dt.day)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd} + hours{dt.hour} + minutes{dt.minute} + seconds{dt.second};
}

}  // namespace pimap::emn
