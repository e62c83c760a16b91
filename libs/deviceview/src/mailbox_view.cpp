#include "pimap/deviceview/mailbox_view.hpp"

#include <algorithm>
#include <utility>

namespace pimap::deviceview {

MailboxView MailboxView::from_set(const imap::NumberSet& set) {
  MailboxView v;
  for (const auto r : set) {
    const auto lo = std::min(r.first, r.last);
    const auto hi = std::max(r.first, r.last);
    if (lo == 0) continue;  // not a valid UID; the parser rejects it anyway
    v.add_range(lo, hi);
  }
  return v;
}

MailboxView MailboxView::from_uids(const std::vector<std::uint32_t>& uids) {
  MailboxView v;
  for (const auto uid : uids) {
    if (uid == 0) continue;
    // SEARCH results come ascending: appending to the last range is the common case.
    if (!v.ranges_.empty() && v.ranges_.back().last != UINT32_MAX && v.ranges_.back().last + 1 == uid) {
      v.ranges_.back().last = uid;
    } else {
      v.add(uid);
    }
  }
  return v;
}

void MailboxView::add_range(std::uint32_t first, std::uint32_t last) {
  if (first > last) std::swap(first, last);
  // First range that could touch [first, last]: the first whose end reaches first - 1.
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), first, [](const Range& r, std::uint32_t f) {
    return r.last != UINT32_MAX && r.last + 1 < f;
  });
  Range merged{first, last};
  auto end = it;
  while (end != ranges_.end() && (last == UINT32_MAX || end->first <= last + 1)) {
    merged.first = std::min(merged.first, end->first);
    merged.last = std::max(merged.last, end->last);
    ++end;
  }
  it = ranges_.erase(it, end);
  ranges_.insert(it, merged);
}

bool MailboxView::remove(std::uint32_t uid) {
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), uid,
                             [](const Range& r, std::uint32_t u) { return r.last < u; });
  if (it == ranges_.end() || it->first > uid) return false;
  if (it->first == uid && it->last == uid) {
    ranges_.erase(it);
  } else if (it->first == uid) {
    ++it->first;
  } else if (it->last == uid) {
    --it->last;
  } else {
    const Range upper{uid + 1, it->last};
    it->last = uid - 1;
    ranges_.insert(it + 1, upper);
  }
  return true;
}

bool MailboxView::contains(std::uint32_t uid) const noexcept {
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), uid,
                             [](const Range& r, std::uint32_t u) { return r.last < u; });
  return it != ranges_.end() && it->first <= uid;
}

std::uint64_t MailboxView::size() const noexcept {
  std::uint64_t n = 0;
  for (const auto& r : ranges_) n += std::uint64_t{r.last} - r.first + 1;
  return n;
}

std::optional<std::uint64_t> MailboxView::sequence_of(std::uint32_t uid) const noexcept {
  std::uint64_t before = 0;
  for (const auto& r : ranges_) {
    if (uid < r.first) return std::nullopt;
    if (uid <= r.last) return before + (uid - r.first) + 1;
    before += std::uint64_t{r.last} - r.first + 1;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> MailboxView::max() const noexcept {
  if (ranges_.empty()) return std::nullopt;
  return ranges_.back().last;
}

std::string MailboxView::to_string() const {
  std::string s;
  for (const auto& r : ranges_) {
    if (!s.empty()) s += ',';
    s += std::to_string(r.first);
    if (r.last != r.first) {
      s += ':';
      s += std::to_string(r.last);
    }
  }
  return s;
}

MailboxView MailboxView::minus(const MailboxView& other) const {
  MailboxView out;
  auto o = other.ranges_.begin();
  for (const auto& r : ranges_) {
    std::uint64_t cur = r.first;  // 64-bit so that "last + 1" cannot wrap
    const std::uint64_t last = r.last;
    while (o != other.ranges_.end() && o->last < cur) ++o;
    auto p = o;
    while (cur <= last) {
      if (p == other.ranges_.end() || p->first > last) {
        out.ranges_.push_back({static_cast<std::uint32_t>(cur), static_cast<std::uint32_t>(last)});
        break;
      }
      if (p->first > cur) {
        out.ranges_.push_back({static_cast<std::uint32_t>(cur), p->first - 1});
      }
      cur = std::uint64_t{p->last} + 1;
      ++p;
    }
  }
  return out;
}

namespace {

// Members of both views, by one sweep over the two range lists.
MailboxView intersect(const MailboxView& a, const MailboxView& b) {
  MailboxView out;
  auto i = a.ranges().begin();
  auto j = b.ranges().begin();
  while (i != a.ranges().end() && j != b.ranges().end()) {
    const auto lo = std::max(i->first, j->first);
    const auto hi = std::min(i->last, j->last);
    if (lo <= hi) out.add_range(lo, hi);
    if (i->last < j->last) ++i;
    else ++j;
  }
  return out;
}

}  // namespace

Reconciliation reconcile(const MailboxView& device, const MailboxView& store, bool qresync) {
  Reconciliation out;
  MailboxView gone = device.minus(store);
  const MailboxView added = store.minus(device);
  if (!added.empty() && device.max() && *device.max() > added.ranges().front().first) {
    // New messages are appended at the end of the device's sequence; any message the device knows
    // above the first new one would then sit at the wrong number, so it goes too and is re-counted.
    MailboxView above;
    above.add_range(added.ranges().front().first, *device.max());
    const MailboxView reordered = intersect(device, above);
    for (const auto& r : reordered.ranges()) gone.add_range(r.first, r.last);
  }

  if (!gone.empty()) {
    if (qresync) {
      out.lines.push_back("* VANISHED " + gone.to_string() + "\r\n");
    } else {
      // From the top down: every EXPUNGE then refers to a number below the ones already sent, so it
      // still names the same message on the device.
      const auto& d = device.ranges();
      const auto& g = gone.ranges();
      auto dr = d.rbegin();
      std::uint64_t seq_of_last = device.size();  // sequence number of dr->last
      for (auto gr = g.rbegin(); gr != g.rend(); ++gr) {
        while (dr->first > gr->last) {  // gone is a subset of device: this terminates
          seq_of_last -= std::uint64_t{dr->last} - dr->first + 1;
          ++dr;
        }
        const std::uint64_t hi = seq_of_last - (dr->last - gr->last);
        const std::uint64_t count = std::uint64_t{gr->last} - gr->first + 1;
        for (std::uint64_t i = 0; i < count; ++i) {
          out.lines.push_back("* " + std::to_string(hi - i) + " EXPUNGE\r\n");
        }
      }
    }
  }
  const std::uint64_t kept = device.size() - gone.size();
  out.exists = store.size();
  if (out.exists > kept) out.lines.push_back("* " + std::to_string(out.exists) + " EXISTS\r\n");
  return out;
}

}  // namespace pimap::deviceview
